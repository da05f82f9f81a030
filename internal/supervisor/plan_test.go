package supervisor

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pilotage/pilotage/internal/control"
	"github.com/pilotage/pilotage/internal/proclet"
)

func TestPlanGroupsReplicasAndOrder(t *testing.T) {
	d := desc("*main.Main@web:checkout.Checkout,catalog.Catalog", "checkout.Checkout:cart.Cart,catalog.Catalog", "cart.Cart:catalog.Catalog", "catalog.Catalog")
	cfg := mustConfig(`
[listeners.web]
address = "127.0.0.1:9999"
[run]
replicas = 3
colocate = [["cart.Cart", "example.com/app/catalog.Catalog"]]
[run.components."checkout.Checkout"]
replicas = 1
restart_dependents = true
[units.db]
command = "db"
required_by = ["cart.Cart"]
[units.cache]
command = "cache"
after = ["db"]
`)
	p, err := NewPlan("shop", d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range p.Nodes {
		names = append(names, n.Name)
	}
	want := []string{"db", "cache", "cart.Cart+catalog.Catalog", "checkout.Checkout", "main.Main"}
	if !slices.Equal(names, want) {
		t.Errorf("order = %v, want %v", names, want)
	}
	g := p.Node("cart.Cart+catalog.Catalog")
	if g.Replicas != 3 || !slices.Equal(g.Deps, []string{"db"}) || len(g.Components) != 2 {
		t.Errorf("group: %+v", g)
	}
	co := p.Node("checkout.Checkout")
	if co.Replicas != 1 || !co.RestartDependents || !slices.Equal(co.Deps, []string{"cart.Cart+catalog.Catalog"}) {
		t.Errorf("checkout: %+v", co)
	}
	if m := p.Node("main.Main"); !m.Main || !slices.Equal(m.Listeners, []string{"web"}) || p.Listeners["web"] != "127.0.0.1:9999" {
		t.Errorf("main: %+v, listeners %v", m, p.Listeners)
	}
	nodeOf := func(name string) *Node {
		n, err := p.NodeOf(name)
		if err != nil {
			t.Fatalf("NodeOf(%q): %v", name, err)
		}
		return n
	}
	if nodeOf("catalog.Catalog") != g || nodeOf("example.com/app/cart.Cart") != g || nodeOf("db").Unit == nil {
		t.Errorf("NodeOf does not resolve names")
	}
	if _, err := p.NodeOf("nope.Nope"); !errors.Is(err, control.ErrNotFound) {
		t.Errorf("NodeOf(nope.Nope): %v", err)
	}
	if !slices.Equal(p.Dependents("db"), []string{"cache", "cart.Cart+catalog.Catalog"}) {
		t.Errorf("dependents of db = %v", p.Dependents("db"))
	}
}

func TestPlanDefaultReplicas(t *testing.T) {
	p, err := NewPlan("a", desc("*main.Main"), mustConfig(""))
	if err != nil {
		t.Fatal(err)
	}
	if p.Nodes[0].Replicas != DefaultReplicas {
		t.Errorf("replicas = %d", p.Nodes[0].Replicas)
	}
}

func TestPlanErrors(t *testing.T) {
	d := desc("*main.Main:b.B", "b.B:a.A", "a.A")
	for _, tc := range []struct{ cfg, want string }{
		{"[run]\ncolocate = [[\"main.Main\", \"a.A\"]]", "dependency cycle"},
		{"[run]\ncolocate = [[\"x.X\"]]", `no such component or unit: "x.X" (components: a.A, b.B, main.Main)`},
		{"[run]\ncolocate = [[\"a.A\"], [\"a.A\", \"b.B\"]]", "a.A is in two groups"},
		{"[run.components.\"zz.Z\"]\nreplicas = 1", `[run.components."zz.Z"]`},
		{"[listeners.nope]\naddress = \":1\"", "[listeners.nope] names no listener"},
		{"[units.u]\ncommand = \"x\"\nrequired_by = [\"q.Q\"]", `"q.Q" is neither a unit nor a component`},
		{"[units.u]\nargs = [\"x\"]", "command is required"},
		{"[units.u]\ncommand = \"x\"\nrestart = \"sometimes\"", `restart = "sometimes"`},
		{"[units.u]\ncommand = \"x\"\nafter = [\"v\"]\n[units.v]\ncommand = \"y\"\nafter = [\"u\"]", "dependency cycle"},
		// A misspelt component section fails the plan, not every replica.
		{"[components.\"a.AA\"]\nx = 1", `[components."a.AA"] names no component of this application`},
	} {
		_, err := NewPlan("a", d, mustConfig(tc.cfg))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("config %q: error %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	got := []string{}
	for i := range 8 {
		got = append(got, backoff(i).String())
	}
	want := []string{"0s", "100ms", "200ms", "400ms", "800ms", "1.6s", "3.2s", "5s"}
	if !slices.Equal(got, want) {
		t.Errorf("backoff = %v, want %v", got, want)
	}
}

// Two components with the same short name: both groups are named by full
// names, the short name is ambiguous (the error lists both), and the
// replicas' sockets are plain file names in the socket directory.
func TestPlanSameShortName(t *testing.T) {
	d := &proclet.Description{Components: []proclet.ComponentInfo{
		{Name: "example.com/app/main.Main", Main: true, Refs: []string{"example.com/app/v1/store.Store", "example.com/app/v2/store.Store"}},
		{Name: "example.com/app/v1/store.Store"},
		{Name: "example.com/app/v2/store.Store"},
	}}
	p, err := NewPlan("a", d, mustConfig(""))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"example.com/app/v1/store.Store", "example.com/app/v2/store.Store"} {
		if n := p.Node(name); n == nil {
			t.Errorf("no group named %s", name)
		}
		if n, err := p.NodeOf(name); err != nil || n.Name != name {
			t.Errorf("NodeOf(%s) = %v, %v", name, n, err)
		}
	}
	_, err = p.NodeOf("store.Store")
	if !errors.Is(err, control.ErrAmbiguous) || !strings.Contains(err.Error(), "example.com/app/v1/store.Store, example.com/app/v2/store.Store") {
		t.Errorf("NodeOf(store.Store): %v", err)
	}
	s := &Supervisor{opts: Options{StateDir: "/tmp/st"}}
	seen := map[string]bool{}
	for i, pn := range p.Nodes {
		sock := s.socketPath(&slot{node: &node{Node: pn, order: i}, index: 0})
		if filepath.Dir(sock) != "/tmp/st/sock" || seen[sock] {
			t.Errorf("socket of %s: %s", pn.Name, sock)
		}
		seen[sock] = true
	}
}
