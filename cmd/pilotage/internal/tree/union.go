package tree

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
)

// A Union serves one directory of the tree with several FSs, each of
// which serves some of its children: /apps holds the apps of this
// machine (package appfs) and those deployed to Kubernetes (package
// deployfs). Listing the directory merges their listings; everything at
// or below a child is served by the first FS, in the order given, that
// has that child. The directory itself is the first FS's.
//
// An FS that does not answer (its List fails with an error wrapping
// ErrUnavailable) is left out of the listing while another answers, as
// an app whose supervisor does not answer is left out of appfs's; a path
// into it says why.
type Union struct {
	dir     string
	members []FS
}

var _ FS = (*Union)(nil)

// NewUnion returns the union of members at the directory dir (a clean
// absolute path).
func NewUnion(dir string, members ...FS) *Union { return &Union{dir: dir, members: members} }

// route returns the FS serving p: the first member that has the child of
// dir that p is, or is below.
func (u *Union) route(ctx context.Context, p string) (FS, error) {
	if p == u.dir || !strings.HasPrefix(p, u.dir+"/") {
		return u.members[0], nil
	}
	child, _, _ := strings.Cut(p[len(u.dir)+1:], "/")
	var firstErr error
	for _, m := range u.members {
		_, err := m.Stat(ctx, u.dir+"/"+child)
		switch {
		case err == nil:
			return m, nil
		case ctx.Err() != nil:
			return nil, err
		case !errors.Is(err, ErrNotFound) && firstErr == nil:
			firstErr = err // an app that is not running: say so, unless another has it
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return nil, NotFound(p)
}

func (u *Union) Stat(ctx context.Context, p string) (Node, error) {
	m, err := u.route(ctx, p)
	if err != nil {
		return Node{}, err
	}
	return m.Stat(ctx, p)
}

// List lists dir as the merge of the members' listings, sorted by name; a
// child two members have is the first's. Elsewhere it is the serving
// member's List.
func (u *Union) List(ctx context.Context, p string) ([]Node, error) {
	if p != u.dir {
		m, err := u.route(ctx, p)
		if err != nil {
			return nil, err
		}
		return m.List(ctx, p)
	}
	lists := make([][]Node, len(u.members))
	errs := make([]error, len(u.members))
	var wg sync.WaitGroup
	for i, m := range u.members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lists[i], errs[i] = m.List(ctx, p)
		}()
	}
	wg.Wait()
	var out []Node
	seen := map[string]bool{}
	answered := 0
	var unavailable error
	for i := range u.members {
		switch err := errs[i]; {
		case err == nil:
			answered++
		case errors.Is(err, ErrUnavailable):
			unavailable = firstOf(unavailable, err)
			continue
		default:
			return nil, err
		}
		for _, n := range lists[i] {
			if !seen[n.Name] {
				seen[n.Name] = true
				out = append(out, n)
			}
		}
	}
	if answered == 0 {
		return nil, unavailable
	}
	slices.SortStableFunc(out, func(a, b Node) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// firstOf returns the first of a and b that is not nil.
func firstOf(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// Watch watches dir in every member at once, until ctx ends or one's
// watch fails; elsewhere it is the serving member's Watch.
func (u *Union) Watch(ctx context.Context, p string, fn func(Event)) error {
	if p != u.dir {
		m, err := u.route(ctx, p)
		if err != nil {
			return err
		}
		return m.Watch(ctx, p, fn)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu    sync.Mutex // fn is called by one member at a time
		wg    sync.WaitGroup
		first error
	)
	for _, m := range u.members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := m.Watch(ctx, p, func(ev Event) {
				mu.Lock()
				defer mu.Unlock()
				fn(ev)
			})
			if err != nil && ctx.Err() == nil {
				mu.Lock()
				first = firstOf(first, err)
				mu.Unlock()
				cancel()
			}
		}()
	}
	wg.Wait()
	return first
}

func (u *Union) Read(ctx context.Context, p string, opts ReadOptions) (Content, error) {
	m, err := u.route(ctx, p)
	if err != nil {
		return Content{}, err
	}
	return m.Read(ctx, p, opts)
}

func (u *Union) Write(ctx context.Context, p string, value json.RawMessage, version string) (string, error) {
	m, err := u.route(ctx, p)
	if err != nil {
		return "", err
	}
	return m.Write(ctx, p, value, version)
}

func (u *Union) Remove(ctx context.Context, p string) error {
	m, err := u.route(ctx, p)
	if err != nil {
		return err
	}
	return m.Remove(ctx, p)
}

func (u *Union) Act(ctx context.Context, p, action string) (string, error) {
	m, err := u.route(ctx, p)
	if err != nil {
		return "", err
	}
	return m.Act(ctx, p, action)
}

func (u *Union) Logs(ctx context.Context, p string, opts LogOptions, fn func(LogLine) error) error {
	m, err := u.route(ctx, p)
	if err != nil {
		return err
	}
	return m.Logs(ctx, p, opts, fn)
}

func (u *Union) Exec(ctx context.Context, p string, req ExecRequest) (int, error) {
	m, err := u.route(ctx, p)
	if err != nil {
		return 0, err
	}
	return m.Exec(ctx, p, req)
}

func (u *Union) Call(ctx context.Context, p, method string, args json.RawMessage) (json.RawMessage, error) {
	m, err := u.route(ctx, p)
	if err != nil {
		return nil, err
	}
	return m.Call(ctx, p, method, args)
}
