package supervisor

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/internal/graph"
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

// Without replicas in the configuration, a group runs DefaultReplicas
// processes, but the main component's runs one unless main has a listener:
// a main that prints and returns (the README's Hello) must not run twice.
func TestPlanDefaultReplicas(t *testing.T) {
	for _, tc := range []struct {
		desc        *graph.Graph
		cfg         string
		main, other int
	}{
		{desc("*main.Main:b.B", "b.B"), "", 1, DefaultReplicas},
		{desc("*main.Main@web:b.B", "b.B"), "", DefaultReplicas, DefaultReplicas},
		{desc("*main.Main:b.B", "b.B@site"), "", 1, DefaultReplicas},
		{desc("*main.Main:b.B", "b.B"), "[run]\nreplicas = 3\n", 3, 3},
		{desc("*main.Main:b.B", "b.B"), "[run.components.\"main.Main\"]\nreplicas = 2\n", 2, DefaultReplicas},
		{desc("*main.Main:b.B", "b.B"), "[run]\ncolocate = [[\"main.Main\", \"b.B\"]]\n", 1, 1},
	} {
		p, err := NewPlan("a", tc.desc, mustConfig(tc.cfg))
		if err != nil {
			t.Fatal(err)
		}
		main, other := p.byComp["example.com/app/main.Main"], p.byComp["example.com/app/b.B"]
		if main.Replicas != tc.main || other.Replicas != tc.other {
			t.Errorf("%v with %q: replicas main %d, b.B %d; want %d, %d", tc.desc.Components, tc.cfg, main.Replicas, other.Replicas, tc.main, tc.other)
		}
	}
}

func TestPlanErrors(t *testing.T) {
	d := desc("*main.Main:b.B", "b.B:a.A", "a.A")
	for _, tc := range []struct{ cfg, want string }{
		{"[run]\ncolocate = [[\"main.Main\", \"a.A\"]]", "dependency cycle"},
		{"[run]\ncolocate = [[\"x.X\"]]", `test.toml:2:13: [run] colocate[0]: no such component or unit: "x.X" (components: a.A, b.B, main.Main)`},
		{"[run]\ncolocate = [[\"a.A\"], [\"a.A\", \"b.B\"]]", "a.A is in two groups"},
		{"[run.components.\"zz.Z\"]\nreplicas = 1", `test.toml:1: [run.components."zz.Z"]`},
		{"[listeners.nope]\naddress = \":1\"", "test.toml:1: [listeners.nope] names no listener"},
		{"[units.u]\ncommand = \"x\"\nrequired_by = [\"q.Q\"]", `test.toml:3:16: [units.u] required_by: "q.Q" is neither a unit nor a component`},
		{"[units.u]\ncommand = \"x\"\nafter = [\"v\"]\n[units.v]\ncommand = \"y\"\nafter = [\"u\"]", "dependency cycle"},
		{"[units.\"a.A\"]\ncommand = \"x\"", `test.toml:1: [units.a.A]: the name is taken by a component`},
		// A misspelt component section fails the plan, not every replica.
		{"[components.\"a.AA\"]\nx = 1", `test.toml:1: [components."a.AA"] names no component of this application`},
	} {
		_, err := NewPlan("a", d, mustConfig(tc.cfg))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("config %q: error %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

// A unit whose program cannot be found fails the plan's check, before
// anything starts: looked up as its shim will, in the unit's PATH if its
// env sets one, and relative to its directory.
func TestCheckUnitCommands(t *testing.T) {
	appDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(appDir, "tools", "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(appDir, "tools", "bin", "db"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	d := desc("*main.Main")
	for _, tc := range []struct{ units, want string }{
		{"[units.u]\ncommand = \"sh\"\n", ""},
		{"[units.u]\ncommand = \"no-such-program-pilotage\"\n", `test.toml:2:12: [units.u] command = "no-such-program-pilotage": exec: "no-such-program-pilotage": executable file not found in $PATH`},
		{"[units.u]\ncommand = \"tools/bin/db\"\n", ""},
		{"[units.u]\ncommand = \"bin/db\"\ndir = \"tools\"\n", ""},
		{"[units.u]\ncommand = \"./db\"\ndir = \"tools\"\n", `[units.u] command = "./db": exec: "` + filepath.Join(appDir, "tools", "db") + `"`},
		{"[units.u]\ncommand = \"db\"\nenv = [\"PATH=" + filepath.Join(appDir, "tools", "bin") + "\"]\n", ""},
		{"[units.u]\ncommand = \"sh\"\nenv = [\"PATH=" + filepath.Join(appDir, "tools") + "\"]\n", `[units.u] command = "sh": exec: "sh": executable file not found in $PATH`},
		{"[units.u]\ncommand = \"sh\"\ndir = \"nowhere\"\n", `test.toml:3:8: [units.u] dir = "nowhere": not a directory`},
	} {
		p, err := NewPlan("a", d, mustConfig(tc.units))
		if err != nil {
			t.Fatal(err)
		}
		err = p.CheckUnitCommands(appDir)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%q: CheckUnitCommands = %v, want %q", tc.units, err, tc.want)
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
	d := &graph.Graph{Components: []graph.Component{
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
