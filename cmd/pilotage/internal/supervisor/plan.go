package supervisor

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/internal/config"
	"github.com/pilotage/pilotage/internal/graph"
)

// DefaultReplicas is the number of processes per group when the
// configuration does not say, but for the group of the main component: it
// runs 1 process unless the main component has a listener, since its app
// function runs once per process (a program that prints and returns must
// not run twice; a server behind a listener is balanced over replicas).
const DefaultReplicas = 2

// A Plan is the layout of an application as processes: its nodes (groups of
// colocated components, and [units] programs) in start order.
type Plan struct {
	App string
	// Deployment identifies the build being run: "<app>-<the first 12 hex
	// digits of the binary's SHA-256>". Every process gets it, and the RPC
	// connections between them carry it, so that a process of another
	// build is never called. Set by New.
	Deployment string
	Nodes      []*Node           // dependencies before dependents
	Components []*Component      // sorted by full name
	Listeners  map[string]string // listener name -> public address ("127.0.0.1:0" for any free port)
	byName     map[string]*Node  // node name -> node
	byComp     map[string]*Node  // component full name -> its group
	comps      map[string]*Component
	cfg        *config.File // to place errors in the file
}

// Component is one component of the application.
type Component struct {
	Name      string // full name
	Short     string // last path element, "cart.Cart"
	Refs      []string
	Listeners []string
	Main      bool
	Methods   []api.Method // of its interface, as the control API shows them
}

// A Node is what the supervisor starts and stops as a whole: a colocation
// group of components (Unit == nil) or a [units] program.
type Node struct {
	Name       string
	Components []string     // full names, for a group
	Unit       *config.Unit // for a unit
	Replicas   int
	Listeners  []string // listener names served by the group
	Main       bool     // hosts the main component
	// RestartDependents makes a restart of this node restart the nodes
	// that depend on it (systemd's PartOf= seen from the other side).
	RestartDependents bool
	Deps              []string // names of the nodes it needs ready first
}

// IsUnit reports whether n is a [units] program.
func (n *Node) IsUnit() bool { return n.Unit != nil }

// Node returns the node named name, or nil.
func (p *Plan) Node(name string) *Node { return p.byName[name] }

// NodeOf returns the node of a component (full or short name), group or
// unit. Its error wraps control.ErrNotFound for an unknown name, or
// control.ErrAmbiguous for a short name several components share (it
// lists their full names).
func (p *Plan) NodeOf(name string) (*Node, error) {
	if n := p.byName[name]; n != nil {
		return n, nil
	}
	full, err := p.resolve(name)
	if err != nil {
		return nil, err
	}
	return p.byComp[full], nil
}

// shortName returns the last path element of a component's full name.
func shortName(full string) string { return full[strings.LastIndex(full, "/")+1:] }

// NewPlan lays out the application described by desc according to cfg.
// Errors about the configuration start with their place in the file.
func NewPlan(app string, desc *graph.Graph, cfg *config.File) (*Plan, error) {
	if cfg == nil {
		cfg = config.Empty()
	}
	p := &Plan{App: app, Listeners: map[string]string{}, byName: map[string]*Node{}, byComp: map[string]*Node{}, comps: map[string]*Component{}, cfg: cfg}
	if len(desc.Components) == 0 {
		return nil, fmt.Errorf("plan: the application has no components")
	}
	for _, ci := range desc.Components {
		if _, dup := p.comps[ci.Name]; dup {
			return nil, fmt.Errorf("plan: component %s described twice", ci.Name)
		}
		c := &Component{Name: ci.Name, Short: shortName(ci.Name), Refs: ci.Refs, Listeners: ci.Listeners, Main: ci.Main, Methods: apiMethods(ci.Methods)}
		p.comps[c.Name] = c
		p.Components = append(p.Components, c)
		for _, l := range ci.Listeners {
			addr := "127.0.0.1:0"
			if lc, ok := cfg.Listeners[l]; ok && lc.Address != "" {
				addr = lc.Address
			}
			p.Listeners[l] = addr
		}
	}
	sort.Slice(p.Components, func(i, j int) bool { return p.Components[i].Name < p.Components[j].Name })
	for _, c := range p.Components {
		for _, r := range c.Refs {
			if p.comps[r] == nil {
				return nil, fmt.Errorf("plan: component %s refers to %s, which the application does not describe", c.Name, r)
			}
		}
	}
	names := make([]string, len(p.Components))
	for i, c := range p.Components {
		names[i] = c.Name
	}
	if err := cfg.CheckComponents(names); err != nil {
		return nil, err
	}
	if err := cfg.CheckListeners(slices.Collect(maps.Keys(p.Listeners))); err != nil {
		return nil, err
	}
	runComps, err := p.runComponents(cfg)
	if err != nil {
		return nil, err
	}
	if err := p.groups(cfg, runComps); err != nil {
		return nil, err
	}
	if err := p.units(cfg); err != nil {
		return nil, err
	}
	if err := p.sortNodes(); err != nil {
		return nil, err
	}
	return p, nil
}

// resolve maps a full or short component name to a full name.
func (p *Plan) resolve(name string) (string, error) {
	if p.comps[name] != nil {
		return name, nil
	}
	var found []string
	for _, c := range p.Components {
		if c.Short == name {
			found = append(found, c.Name)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		known := make([]string, len(p.Components))
		for i, c := range p.Components {
			known[i] = c.Short
		}
		return "", fmt.Errorf("%w: %q (components: %s)", control.ErrNotFound, name, strings.Join(known, ", "))
	}
	return "", fmt.Errorf("%w: %q names %s: use the full name", control.ErrAmbiguous, name, strings.Join(found, ", "))
}

// runComponents resolves the keys of [run.components.X].
func (p *Plan) runComponents(cfg *config.File) (map[string]config.RunComponent, error) {
	out := map[string]config.RunComponent{}
	for k, v := range cfg.Run.Components {
		full, err := p.resolve(k)
		if err != nil {
			return nil, fmt.Errorf("%s: [run.components.%q]: %w", cfg.Where("run", "components", k), k, err)
		}
		out[full] = v
	}
	return out, nil
}

// groups builds one node per colocation group and per remaining component.
func (p *Plan) groups(cfg *config.File, runComps map[string]config.RunComponent) error {
	var sets [][]string
	seen := map[string]bool{}
	for i, set := range cfg.Run.Colocate {
		var g []string
		for _, name := range set {
			full, err := p.resolve(name)
			if err != nil {
				return fmt.Errorf("%s: [run] colocate[%d]: %w", cfg.Where("run", "colocate"), i, err)
			}
			if seen[full] {
				return fmt.Errorf("%s: [run] colocate: %s is in two groups", cfg.Where("run", "colocate"), shortName(full))
			}
			seen[full] = true
			g = append(g, full)
		}
		if len(g) > 0 {
			sets = append(sets, g)
		}
	}
	for _, c := range p.Components {
		if !seen[c.Name] {
			sets = append(sets, []string{c.Name})
		}
	}
	// A group is named by its components' short names, unless another
	// group would have the same name (two packages with the same name):
	// then both are named by full names.
	shortNames := func(set []string) string {
		var shorts []string
		for _, full := range set {
			shorts = append(shorts, p.comps[full].Short)
		}
		return strings.Join(shorts, "+")
	}
	count := map[string]int{}
	for _, set := range sets {
		sort.Strings(set)
		count[shortNames(set)]++
	}
	for _, set := range sets {
		n := &Node{Components: set}
		replicas := 0 // config.Parse rejects replicas < 1: 0 is "not set"
		mainListens := false
		for _, full := range set {
			c := p.comps[full]
			n.Listeners = append(n.Listeners, c.Listeners...)
			n.Main = n.Main || c.Main
			mainListens = mainListens || c.Main && len(c.Listeners) > 0
			if rc, ok := runComps[full]; ok {
				replicas = max(replicas, rc.Replicas)
				n.RestartDependents = n.RestartDependents || rc.RestartDependents
			}
			p.byComp[full] = n
		}
		switch {
		case replicas > 0:
		case cfg.Run.Replicas > 0:
			replicas = cfg.Run.Replicas
		case n.Main && !mainListens:
			replicas = 1
		default:
			replicas = DefaultReplicas
		}
		n.Replicas = replicas
		n.Name = shortNames(set)
		if count[n.Name] > 1 {
			n.Name = strings.Join(set, "+")
		}
		p.byName[n.Name] = n
		p.Nodes = append(p.Nodes, n)
	}
	for _, n := range p.Nodes {
		for _, full := range n.Components {
			for _, r := range p.comps[full].Refs {
				if d := p.byComp[r]; d != n {
					n.Deps = appendUnique(n.Deps, d.Name)
				}
			}
		}
	}
	return nil
}

// units adds one node per [units.NAME] and its dependency edges.
func (p *Plan) units(cfg *config.File) error {
	names := make([]string, 0, len(cfg.Units))
	for name := range cfg.Units {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		u := cfg.Units[name] // config.Parse checked its command and restart
		if _, err := p.NodeOf(name); !errors.Is(err, control.ErrNotFound) {
			return fmt.Errorf("%s: [units.%s]: the name is taken by a component", cfg.Where("units", name), name)
		}
		n := &Node{Name: name, Unit: &u, Replicas: 1}
		p.byName[name] = n
		p.Nodes = append(p.Nodes, n)
	}
	lookup := func(unit, field, ref string) (*Node, error) {
		if d := p.byName[ref]; d != nil {
			return d, nil
		}
		full, err := p.resolve(ref)
		if err != nil {
			return nil, fmt.Errorf("%s: [units.%s] %s: %q is neither a unit nor a component: %w", cfg.Where("units", unit, field), unit, field, ref, err)
		}
		return p.byComp[full], nil
	}
	for _, name := range names {
		u := cfg.Units[name]
		n := p.byName[name]
		for _, a := range u.After {
			d, err := lookup(name, "after", a)
			if err != nil {
				return err
			}
			if d != n {
				n.Deps = appendUnique(n.Deps, d.Name)
			}
		}
		for _, r := range u.RequiredBy {
			d, err := lookup(name, "required_by", r)
			if err != nil {
				return err
			}
			if d != n {
				d.Deps = appendUnique(d.Deps, n.Name)
			}
		}
	}
	return nil
}

// CheckUnitCommands reports every [units] program that could not be
// started, before anything is: a directory that does not exist, or a
// command not found as the unit's shim will look for it. A command with a
// slash is a path, relative to the unit's directory; another is searched
// in the unit's PATH (its env's, else the supervisor's). appDir is the
// app's working directory (Options.Dir).
func (p *Plan) CheckUnitCommands(appDir string) error {
	var errs []error
	for _, n := range p.Nodes {
		if !n.IsUnit() {
			continue
		}
		u := n.Unit
		dir := unitDir(appDir, u.Dir)
		if u.Dir != "" {
			if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
				errs = append(errs, fmt.Errorf("%s: [units.%s] dir = %q: not a directory (%s)", p.cfg.Where("units", n.Name, "dir"), n.Name, u.Dir, dir))
				continue
			}
		}
		if err := findCommand(u.Command, u.Env, dir); err != nil {
			errs = append(errs, fmt.Errorf("%s: [units.%s] command = %q: %w", p.cfg.Where("units", n.Name, "command"), n.Name, u.Command, err))
		}
	}
	return errors.Join(errs...)
}

// unitDir returns the working directory of a unit whose dir setting is
// dir: the app's directory if dir is empty, else dir, relative to the
// app's directory.
func unitDir(appDir, dir string) string {
	switch {
	case dir == "":
		return appDir
	case !filepath.IsAbs(dir) && appDir != "":
		return filepath.Join(appDir, dir)
	}
	return dir
}

// findCommand finds command as exec.Command in a process with environment
// os.Environ()+env and working directory dir would.
func findCommand(command string, env []string, dir string) error {
	if strings.Contains(command, "/") {
		if !filepath.IsAbs(command) && dir != "" {
			command = filepath.Join(dir, command)
		}
		_, err := exec.LookPath(command)
		return err
	}
	path, ok := lastValue(env, "PATH")
	if !ok {
		_, err := exec.LookPath(command)
		return err
	}
	for _, d := range filepath.SplitList(path) {
		// A relative entry would be refused at start (exec.ErrDot).
		if filepath.IsAbs(d) {
			if _, err := exec.LookPath(filepath.Join(d, command)); err == nil {
				return nil
			}
		}
	}
	return &exec.Error{Name: command, Err: exec.ErrNotFound}
}

// lastValue returns the value of the last setting of name in env, the one
// a process started with env sees.
func lastValue(env []string, name string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// sortNodes orders p.Nodes so that dependencies come first (ties by name),
// and reports a cycle.
func (p *Plan) sortNodes() error {
	indeg := map[string]int{}
	dependents := map[string][]string{}
	for _, n := range p.Nodes {
		indeg[n.Name] += 0
		for _, d := range n.Deps {
			indeg[n.Name]++
			dependents[d] = append(dependents[d], n.Name)
		}
	}
	var ready, order []string
	for name, d := range indeg {
		if d == 0 {
			ready = append(ready, name)
		}
	}
	for len(ready) > 0 {
		sort.Strings(ready)
		name := ready[0]
		ready = ready[1:]
		order = append(order, name)
		for _, dep := range dependents[name] {
			if indeg[dep]--; indeg[dep] == 0 {
				ready = append(ready, dep)
			}
		}
	}
	if len(order) != len(p.Nodes) {
		var stuck []string
		for _, n := range p.Nodes {
			if !slices.Contains(order, n.Name) {
				stuck = append(stuck, n.Name+" (needs "+strings.Join(n.Deps, ", ")+")")
			}
		}
		sort.Strings(stuck)
		return fmt.Errorf("plan: dependency cycle among %s; colocating components that call each other through a third one creates such a cycle", strings.Join(stuck, "; "))
	}
	nodes := make([]*Node, len(order))
	for i, name := range order {
		nodes[i] = p.byName[name]
	}
	p.Nodes = nodes
	return nil
}

// Dependents returns the names of the nodes that depend on name directly.
func (p *Plan) Dependents(name string) []string {
	var out []string
	for _, n := range p.Nodes {
		if slices.Contains(n.Deps, name) {
			out = append(out, n.Name)
		}
	}
	return out
}

func appendUnique(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}
