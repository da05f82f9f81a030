package tree

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// A fakeFS serves the children of /apps it is given, or fails with err.
type fakeFS struct {
	Unsupported
	name string
	apps []string
	err  error
}

func (f *fakeFS) has(p string) bool {
	for _, a := range f.apps {
		if p == "/apps/"+a || strings.HasPrefix(p, "/apps/"+a+"/") {
			return true
		}
	}
	return false
}

func (f *fakeFS) Stat(_ context.Context, p string) (Node, error) {
	switch {
	case p == "/apps":
		return Node{Path: p, Name: "apps", Dir: true}, nil
	case f.err != nil:
		return Node{}, f.err
	case f.has(p):
		return Node{Path: p, Name: p[strings.LastIndex(p, "/")+1:], Info: f.name}, nil
	}
	return Node{}, NotFound(p)
}

func (f *fakeFS) List(_ context.Context, p string) ([]Node, error) {
	if f.err != nil {
		return nil, f.err
	}
	var out []Node
	for _, a := range f.apps {
		out = append(out, Node{Path: "/apps/" + a, Name: a, Info: f.name})
	}
	return out, nil
}

func (f *fakeFS) Act(_ context.Context, p, action string) (string, error) {
	return f.name + " " + action + " " + p, nil
}

func TestUnion(t *testing.T) {
	ctx := context.Background()
	local := &fakeFS{name: "local", apps: []string{"shop", "wordcount"}}
	deployed := &fakeFS{name: "kube", apps: []string{"leaderapp", "shop"}}
	u := NewUnion("/apps", local, deployed)
	nodes, err := u.List(ctx, "/apps")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range nodes {
		got = append(got, n.Name+"@"+n.Info)
	}
	if want := []string{"leaderapp@kube", "shop@local", "wordcount@local"}; !slices.Equal(got, want) {
		t.Errorf("ls /apps: %v, want %v (a name both have is the first's)", got, want)
	}
	for p, want := range map[string]string{
		"/apps/leaderapp/components/x": "kube stop /apps/leaderapp/components/x",
		"/apps/shop":                   "local stop /apps/shop",
	} {
		if msg, err := u.Act(ctx, p, "stop"); err != nil || msg != want {
			t.Errorf("stop %s: %q, %v; want %q", p, msg, err, want)
		}
	}
	if _, err := u.Stat(ctx, "/apps/nothing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("stat of an app nobody has: %v, want ErrNotFound", err)
	}

	// A member that does not answer is left out of the listing; a path
	// into it says why.
	deployed.err = fmt.Errorf("the cluster does not answer: %w", ErrUnavailable)
	nodes, err = u.List(ctx, "/apps")
	if err != nil || len(nodes) != 2 {
		t.Errorf("ls /apps with the cluster down: %+v, %v; want the local apps", nodes, err)
	}
	if _, err := u.Stat(ctx, "/apps/leaderapp"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("stat into the member down: %v, want ErrUnavailable", err)
	}
	local.err = fmt.Errorf("no state root: %w", ErrUnavailable)
	if _, err := u.List(ctx, "/apps"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("ls /apps with every member down: %v, want ErrUnavailable", err)
	}
	local.err = errors.New("broken")
	if _, err := u.List(ctx, "/apps"); err == nil || err.Error() != "broken" {
		t.Errorf("ls /apps with a member failing: %v, want its error", err)
	}
}
