package appfs

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// names returns the names of nodes.
func names(nodes []tree.Node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.Name
	}
	return out
}

// mustList lists p, failing the test on an error.
func mustList(t *testing.T, f tree.FS, p string) []tree.Node {
	t.Helper()
	nodes, err := f.List(testContext(t), p)
	if err != nil {
		t.Fatalf("List(%s): %v", p, err)
	}
	return nodes
}

// mustStat stats p, failing the test on an error.
func mustStat(t *testing.T, f tree.FS, p string) tree.Node {
	t.Helper()
	n, err := f.Stat(testContext(t), p)
	if err != nil {
		t.Fatalf("Stat(%s): %v", p, err)
	}
	if n.Path != p {
		t.Errorf("Stat(%s).Path = %s", p, n.Path)
	}
	return n
}

func TestTreeLayout(t *testing.T) {
	a := shared(t)
	f := newFS(t, a.root)
	apps := mustList(t, f, "/apps")
	if got := names(apps); !slices.Equal(got, []string{"shop"}) {
		t.Fatalf("ls /apps = %v, want [shop]", got)
	}
	if n := apps[0]; n.Path != "/apps/shop" || n.Kind != "App" || !n.Dir || n.State != "Ready" || n.Created.IsZero() || !n.Logs {
		t.Errorf("ls -l /apps: %+v", n)
	}
	want := []string{"components", "config", "groups", "leaders", "listeners", "locks", "startup", "units"}
	if got := names(mustList(t, f, "/apps/shop")); !slices.Equal(got, want) {
		t.Errorf("ls /apps/shop = %v, want %v", got, want)
	}
	comps := mustList(t, f, "/apps/shop/components")
	if got := names(comps); !slices.Equal(got, []string{"a.A", "b.B"}) {
		t.Fatalf("ls components = %v", got)
	}
	c := comps[0]
	if c.Kind != "Component" || !c.Dir || c.State != "Ready" || c.Ready != "2/2" || c.Created.IsZero() ||
		!c.Callable || !c.Logs || !c.Readable || !slices.Equal(c.Actions, []string{"stop", "start", "restart"}) {
		t.Errorf("ls -l components: a.A is %+v", c)
	}
	if got := names(mustList(t, f, "/apps/shop/components/a.A")); !slices.Equal(got, []string{"config", "methods", "replicas", "status"}) {
		t.Errorf("ls components/a.A = %v", got)
	}
	reps := mustList(t, f, "/apps/shop/components/a.A/replicas")
	if got := names(reps); !slices.Equal(got, []string{"0", "1"}) {
		t.Fatalf("ls replicas = %v", got)
	}
	for _, r := range reps {
		if r.Kind != "Replica" || !r.Dir || r.State != "Ready" || !r.Exec || !r.Logs || !strings.HasPrefix(r.Info, "pid ") ||
			!slices.Equal(r.Actions, []string{"restart"}) || r.Path != "/apps/shop/components/a.A/replicas/"+r.Name {
			t.Errorf("ls -l replicas: %+v", r)
		}
	}
	files := mustList(t, f, "/apps/shop/components/a.A/replicas/1")
	if got := names(files); !slices.Equal(got, []string{"env", "logs", "status"}) {
		t.Fatalf("ls replicas/1 = %v", got)
	}
	for _, n := range files {
		if n.Dir || !n.Readable || n.Path != "/apps/shop/components/a.A/replicas/1/"+n.Name || n.Logs != (n.Name == "logs") {
			t.Errorf("ls -l replicas/1: %+v", n)
		}
	}
	if n := mustStat(t, f, "/apps/shop/components/a.A/replicas/1/logs"); n.Kind != "Logs" || !n.Logs {
		t.Errorf("stat logs: %+v", n)
	}
	if n := mustStat(t, f, "/apps/shop/units/sleeper"); n.Kind != "Unit" || !n.Dir || n.Ready != "1/1" {
		t.Errorf("stat units/sleeper: %+v", n)
	}
	if got := names(mustList(t, f, "/apps/shop/units/sleeper")); !slices.Equal(got, []string{"logs", "replicas", "status"}) {
		t.Errorf("ls units/sleeper = %v", got)
	}
	if n := mustStat(t, f, "/apps/shop/units/sleeper/replicas/0"); !n.Exec {
		t.Errorf("stat units/sleeper/replicas/0: %+v", n)
	}
	if n := mustStat(t, f, "/apps/shop/groups/a.A"); n.Kind != "Group" || n.Dir || !n.Logs {
		t.Errorf("stat groups/a.A: %+v", n)
	}
	if n := mustStat(t, f, "/apps/shop/listeners/web"); n.Kind != "Listener" || !strings.HasPrefix(n.Info, "127.0.0.1:") {
		t.Errorf("stat listeners/web: %+v", n)
	}
	if n := mustStat(t, f, "/apps/shop/startup"); n.Kind != "Startup" || !n.Readable || n.Dir {
		t.Errorf("stat startup: %+v", n)
	}
	// The app by its ID too.
	id := "/apps/" + strings.TrimPrefix(a.dir, a.root+"/")
	if n := mustStat(t, f, id+"/components/b.B"); n.Ready != "1/1" {
		t.Errorf("stat by ID: %+v", n)
	}
	if got := names(mustList(t, f, id+"/components")); !slices.Equal(got, []string{"a.A", "b.B"}) || mustList(t, f, id+"/components")[0].Path != id+"/components/a.A" {
		t.Errorf("ls by ID: %v", got)
	}
	for _, p := range []string{"/apps/nosuch", "/apps/shop/nosuch", "/apps/shop/components/a.A/replicas/7", "/apps/shop/components/a.A/replicas/0/nosuch"} {
		if _, err := f.Stat(testContext(t), p); !errors.Is(err, tree.ErrNotFound) || err.Error() != p+": no such path" {
			t.Errorf("Stat(%s) = %v, want one line wrapping ErrNotFound", p, err)
		}
	}
	if _, err := f.List(testContext(t), "/apps/shop/startup"); !errors.Is(err, tree.ErrNotSupported) {
		t.Errorf("List(startup) = %v, want ErrNotSupported", err)
	}
}

func TestMethods(t *testing.T) {
	a := shared(t)
	f := newFS(t, a.root)
	methods := mustList(t, f, "/apps/shop/components/b.B/methods")
	if got := names(methods); !slices.Equal(got, []string{"Get", "Ping"}) {
		t.Fatalf("ls methods = %v", got)
	}
	if n := methods[0]; n.Kind != "Method" || n.Info != "Get(ctx, id string) (Item, error)" || n.Path != "/apps/shop/components/b.B/methods/Get" {
		t.Errorf("ls -l methods: %+v", n)
	}
	if n := mustStat(t, f, "/apps/shop/components/b.B/methods/Ping"); n.Info != "Ping(ctx) error" {
		t.Errorf("stat methods/Ping: %+v", n)
	}
	if n := mustStat(t, f, "/apps/shop/components/b.B/methods"); !n.Dir || n.Info != "2 methods" {
		t.Errorf("stat methods: %+v", n)
	}
	if got := mustList(t, f, "/apps/shop/components/a.A/methods"); len(got) != 0 {
		t.Errorf("ls a.A/methods = %v, want none", names(got))
	}
	// The supervisor checks the method before it calls a replica.
	_, err := f.Call(testContext(t), "/apps/shop/components/b.B", "Nope", nil)
	if !errors.Is(err, tree.ErrInvalid) || !strings.Contains(err.Error(), `no method "Nope" (its methods: Get, Ping)`) {
		t.Errorf("call of an unknown method = %v, want ErrInvalid naming the methods", err)
	}
	if _, err := f.Call(testContext(t), "/apps/shop/components/b.B/replicas/0", "Get", nil); !errors.Is(err, tree.ErrNotSupported) {
		t.Errorf("call of a replica = %v, want ErrNotSupported", err)
	}
}

func TestSignature(t *testing.T) {
	for _, tc := range []struct {
		m    api.Method
		want string
	}{
		{api.Method{Name: "List", Results: []string{"[]Product"}}, "List(ctx) ([]Product, error)"},
		{api.Method{Name: "Add", Params: []api.Param{{Name: "user", Type: "string"}, {Name: "item", Type: "Item"}}}, "Add(ctx, user string, item Item) error"},
		{api.Method{Name: "Two", Results: []string{"int", "string"}}, "Two(ctx) (int, string, error)"},
	} {
		if got := signature(tc.m); got != tc.want {
			t.Errorf("signature(%+v) = %q, want %q", tc.m, got, tc.want)
		}
	}
}

func TestByName(t *testing.T) {
	got := []string{"10", "2", "b", "1", "a", "0"}
	slices.SortFunc(got, byName)
	if want := []string{"0", "1", "2", "10", "a", "b"}; !slices.Equal(got, want) {
		t.Errorf("sorted: %v, want %v", got, want)
	}
}
