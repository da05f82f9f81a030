package generate

import (
	"fmt"
	"go/token"
	"go/types"
	"sort"
	"strings"
)

// errorType is the predeclared error interface.
var errorType = types.Universe.Lookup("error").Type()

// isError reports whether t is the error interface.
func isError(t types.Type) bool { return types.Identical(types.Unalias(t), errorType) }

// isContext reports whether t is context.Context.
func isContext(t types.Type) bool {
	n, ok := types.Unalias(t).(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == "context" && n.Obj().Name() == "Context"
}

// validate checks the discovered application, adding problems to ps.
func (a *app) validate(ps *problems) {
	a.applyIdempotent(ps)
	for _, c := range a.sortedComps() {
		a.validateComponent(c, ps)
	}
	a.checkListeners(ps)
	a.checkCycles(ps)
}

// applyIdempotent marks idempotent methods, reporting marks that name no
// component method.
func (a *app) applyIdempotent(ps *problems) {
	for _, m := range a.idemMarks {
		if m.iface == nil {
			ps.addf(m.pos, "a pilotage.Idempotent value must be a method expression of a component interface, as in \"var _ pilotage.Idempotent = Iface.Method\"")
			continue
		}
		c := a.comps[fullName(m.iface)]
		if c == nil {
			ps.addf(m.pos, "%s.%s is marked pilotage.Idempotent, but %s is not a component interface (no pilotage.Implements or pilotage.Ref names it): mark a component method instead", m.iface.Obj().Name(), m.method, m.iface.Obj().Name())
			continue
		}
		c.idem[m.method] = true
	}
}

// validateComponent checks the implementations and methods of one component.
func (a *app) validateComponent(c *component, ps *problems) {
	switch {
	case len(c.impls) == 0:
		ps.addf(c.usePos, "component %s has no implementation in the loaded packages: add a struct embedding pilotage.Implements[%s], or include its package in the patterns", c.shortName(), c.named.Obj().Name())
	case len(c.impls) > 1:
		var names []string
		for _, im := range c.impls {
			names = append(names, fmt.Sprintf("%s (%s)", im.name(), ps.pos(im.pos)))
		}
		ps.addf(c.impls[1].pos, "component %s has %d implementations: %s; keep exactly one", c.shortName(), len(c.impls), strings.Join(names, ", "))
	}
	if !c.isMain {
		if _, ok := a.byPath[c.pkgPath()]; !ok {
			ps.addf(c.usePos, "component interface %s is declared in package %s, which is not among the packages being generated: add it to the patterns (for example ./...)", c.shortName(), c.pkgPath())
		}
	}
	for _, im := range c.impls {
		ptr := types.NewPointer(im.obj.Type())
		if m, wrongType := types.MissingMethod(ptr, c.iface, true); m != nil {
			how := "missing method " + m.Name()
			if wrongType {
				how = "method " + m.Name() + " has the wrong signature"
			}
			ps.addf(im.pos, "*%s does not implement %s (%s): give *%s the methods of %s", im.obj.Name(), c.shortName(), how, im.obj.Name(), c.shortName())
		}
	}
	for _, m := range c.methods {
		a.validateMethod(c, m, ps)
	}
}

// validateMethod checks one component method's signature.
func (a *app) validateMethod(c *component, m *types.Func, ps *problems) {
	sig := m.Type().(*types.Signature)
	where := fmt.Sprintf("method %s.%s", c.named.Obj().Name(), m.Name())
	if sig.Variadic() {
		ps.addf(m.Pos(), "%s is variadic; component methods cannot be: take a slice instead", where)
	}
	params, results := sig.Params(), sig.Results()
	if params.Len() == 0 || !isContext(params.At(0).Type()) {
		ps.addf(m.Pos(), "%s must take a context.Context as its first parameter: add \"ctx context.Context\"", where)
	}
	if results.Len() == 0 || !isError(results.At(results.Len()-1).Type()) {
		ps.addf(m.Pos(), "%s must return an error as its last result: add an error result", where)
	}
	codecPkg := c.pkgPath()
	for i := 0; i < params.Len(); i++ {
		if i == 0 && isContext(params.At(0).Type()) {
			continue
		}
		v := params.At(i)
		a.checkSerializable(m.Pos(), where, varLabel("parameter", v, i), v.Type(), codecPkg, ps)
	}
	for i := 0; i < results.Len(); i++ {
		if i == results.Len()-1 && isError(results.At(i).Type()) {
			continue
		}
		v := results.At(i)
		a.checkSerializable(m.Pos(), where, varLabel("result", v, i), v.Type(), codecPkg, ps)
	}
}

// varLabel describes parameter or result i for messages.
func varLabel(kind string, v *types.Var, i int) string {
	if v.Name() != "" && v.Name() != "_" {
		return kind + " " + v.Name()
	}
	return fmt.Sprintf("%s #%d", kind, i+1)
}

// checkSerializable reports the unserializable parts of type t.
func (a *app) checkSerializable(pos token.Pos, where, label string, t types.Type, codecPkg string, ps *problems) {
	s := &serialChecker{codecPkg: codecPkg, seen: map[string]bool{}}
	s.check(t, relType(t, codecPkg))
	for _, p := range s.problems {
		ps.addf(pos, "%s: %s: %s", where, label, p)
	}
}

// checkListeners reports listener names used twice in the application.
func (a *app) checkListeners(ps *problems) {
	type use struct {
		im  *impl
		l   listener
		pos string
	}
	first := map[string]use{}
	for _, im := range a.impls {
		for _, l := range im.listeners {
			if u, ok := first[l.name]; ok {
				ps.addf(l.pos, "listener name %q of %s.%s is already used by %s.%s (%s); listener names are unique in an application: rename the field or set a distinct `pilotage:\"name\"` tag", l.name, im.obj.Name(), l.field, u.im.obj.Name(), u.l.field, u.pos)
				continue
			}
			first[l.name] = use{im: im, l: l, pos: ps.pos(l.pos)}
		}
	}
}

// checkCycles reports cycles in the graph of Refs between components.
func (a *app) checkCycles(ps *problems) {
	const (
		unvisited = iota
		active
		done
	)
	state := map[*component]int{}
	var stack []*component
	reported := map[string]bool{}
	var visit func(c *component)
	visit = func(c *component) {
		state[c] = active
		stack = append(stack, c)
		if len(c.impls) == 1 {
			for _, r := range c.impls[0].refs {
				switch state[r.comp] {
				case unvisited:
					visit(r.comp)
				case active:
					a.reportCycle(stack, r, reported, ps)
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[c] = done
	}
	for _, c := range a.sortedComps() {
		if state[c] == unvisited {
			visit(c)
		}
	}
}

// reportCycle reports the cycle closed by r, whose target is on stack.
func (a *app) reportCycle(stack []*component, r ref, reported map[string]bool, ps *problems) {
	start := 0
	for i, c := range stack {
		if c == r.comp {
			start = i
		}
	}
	var names []string
	for _, c := range stack[start:] {
		names = append(names, c.shortName())
	}
	key := append([]string(nil), names...)
	sort.Strings(key)
	if reported[strings.Join(key, " ")] {
		return
	}
	reported[strings.Join(key, " ")] = true
	names = append(names, r.comp.shortName())
	ps.addf(r.pos, "component cycle: %s; components must form a DAG: remove one of these Refs (merge the components, or pass what is needed as arguments)", strings.Join(names, " -> "))
}

// mainImports returns, for the main component's package, the implementation
// packages reachable from Main through Refs that it must import to link them.
// It reports implementations that cannot be imported.
func (a *app) mainImports(ps *problems) (mainImpl *impl, imports []string) {
	c := a.comps[mainName]
	if c == nil || len(c.impls) != 1 {
		return nil, nil
	}
	mainImpl = c.impls[0]
	mainPkg := mainImpl.pkg
	seen := map[*component]bool{c: true}
	need := map[string]bool{}
	queue := []*component{c}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if len(cur.impls) != 1 {
			continue
		}
		im := cur.impls[0]
		path := im.pkg.PkgPath
		if path != mainPkg.PkgPath && mainPkg.Imports[path] == nil && !need[path] {
			switch {
			case im.pkg.Name == "main":
				ps.addf(im.pos, "%s implements %s in package main (%s), which the main component's package %s cannot import: move it to a non-main package", im.obj.Name(), cur.shortName(), path, mainPkg.PkgPath)
			case !canImport(mainPkg.PkgPath, path):
				ps.addf(im.pos, "%s implements %s in package %s, which the main component's package %s cannot import (internal package): move one of them", im.obj.Name(), cur.shortName(), path, mainPkg.PkgPath)
			default:
				need[path] = true
			}
		}
		for _, r := range im.refs {
			if !seen[r.comp] {
				seen[r.comp] = true
				queue = append(queue, r.comp)
			}
		}
	}
	for p := range need {
		imports = append(imports, p)
	}
	sort.Strings(imports)
	return mainImpl, imports
}

// canImport reports whether package from may import package to under the
// "internal" rule.
func canImport(from, to string) bool {
	i := strings.LastIndex(to, "/internal/")
	switch {
	case i >= 0:
	case strings.HasSuffix(to, "/internal"):
		i = len(to) - len("/internal")
	case to == "internal" || strings.HasPrefix(to, "internal/"):
		return !strings.Contains(from, ".") // only within the standard library
	default:
		return true
	}
	parent := to[:i]
	return from == parent || strings.HasPrefix(from, parent+"/")
}
