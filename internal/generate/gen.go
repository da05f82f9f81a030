package generate

import (
	"bytes"
	"fmt"
	"go/format"
	"go/types"
	"sort"
	"strings"

	"golang.org/x/tools/go/packages"
)

// A pkgGen writes the pilotage_gen.go file of one package.
type pkgGen struct {
	pkg     *packages.Package
	f       *genFile
	codecs  *codecs
	comps   []*component // component interfaces declared in pkg (not Main)
	impls   []*impl      // implementations declared in pkg
	main    *impl        // the main component, if implemented in pkg
	imports []string     // blank imports (main package only)
}

// ctxType returns the name of context.Context in the file.
func (g *pkgGen) ctxType() string { return g.f.imp("context", "context") + ".Context" }

// plan returns the generators of every package that needs a file, sorted by
// package path.
func (a *app) plan(ps *problems) []*pkgGen {
	gens := map[string]*pkgGen{}
	get := func(p *packages.Package) *pkgGen {
		if g, ok := gens[p.PkgPath]; ok {
			return g
		}
		f := newGenFile(p.Types)
		g := &pkgGen{pkg: p, f: f, codecs: newCodecs(f)}
		gens[p.PkgPath] = g
		return g
	}
	for _, c := range a.sortedComps() {
		if c.isMain {
			continue
		}
		if p, ok := a.byPath[c.pkgPath()]; ok {
			g := get(p)
			g.comps = append(g.comps, c)
		}
	}
	for _, im := range a.impls {
		g := get(im.pkg)
		g.impls = append(g.impls, im)
	}
	if mainImpl, imports := a.mainImports(ps); mainImpl != nil {
		g := get(mainImpl.pkg)
		g.main, g.imports = mainImpl, imports
	}
	out := make([]*pkgGen, 0, len(gens))
	for _, g := range gens {
		sort.Slice(g.impls, func(i, j int) bool { return g.impls[i].obj.Name() < g.impls[j].obj.Name() })
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pkg.PkgPath < out[j].pkg.PkgPath })
	return out
}

// generate returns the formatted source of the package's file.
func (g *pkgGen) generate() ([]byte, error) {
	f := g.f
	cg := f.codegen()
	// Body: stubs and codec functions, which decide the stale checks.
	f.printf("func init() {\n")
	for _, c := range g.comps {
		g.registerInterface(c)
	}
	if g.main != nil {
		f.printf("%s.RegisterInterface(%s.Interface{\nName: %q,\nType: %s.TypeFor[%s](),\nClientStub: func(%s.Caller) any { return struct{}{} },\nServerStub: func(any) []%s.Handler { return nil },\n})\n",
			cg, cg, mainName, f.imp("reflect", "reflect"), f.typ(g.main.comp.named), cg, cg)
	}
	for _, im := range g.impls {
		g.registerImpl(im)
	}
	for _, name := range g.errorVars() {
		f.printf("_ = %s.RegisterError(%q, %s)\n", cg, g.pkg.PkgPath+"."+name, name)
	}
	f.printf("}\n\n")
	if g.main != nil {
		f.printf("// RunPilotageGenerate marks %s as the main component of a generated application.\nfunc (*%s) RunPilotageGenerate() {}\n\n", g.main.obj.Name(), g.main.obj.Name())
	}
	for _, c := range g.comps {
		g.interfaceStubs(c)
	}
	for _, im := range g.impls {
		g.localStub(im)
	}
	g.codecs.emitPending()
	f.blank = g.imports

	var top bytes.Buffer
	top.WriteString("// If a check below fails to compile, this file is out of date: run \"pilotage generate\".\n\n")
	fmt.Fprintf(&top, "// Version check: run \"pilotage generate\" if this fails.\nvar _ %s.LatestVersion = %s.Version[[0][1]struct{}](\"\\n\\nERROR: this file was written by another version of pilotage generate; run \\\"pilotage generate\\\" again.\\n\\n\")\n\n", cg, cg)
	for _, c := range g.comps {
		fmt.Fprintf(&top, "// %s changed since generation if these fail: run \"pilotage generate\".\nvar _ = %s.RunPilotageGenerateIfThisFails[%s](%s{})\nvar _ = %s.RunPilotageGenerateIfThisFails[%s](%s(nil))\n\n",
			c.named.Obj().Name(), cg, f.typ(c.named), clientType(c), cg, g.interfaceCheck(c), f.typ(c.named))
	}
	for _, im := range g.impls {
		if !im.comp.isMain {
			fmt.Fprintf(&top, "// %s changed since generation if this fails: run \"pilotage generate\".\nvar _ = %s.RunPilotageGenerateIfThisFails[%s](%s{})\n\n",
				f.typ(im.comp.named), cg, f.typ(im.comp.named), localType(im))
		}
	}
	for _, t := range g.codecs.checks {
		lit := "*new(" + f.typ(t) + ")"
		if _, ok := t.Underlying().(*types.Struct); ok {
			lit = f.typ(t) + "{}"
		}
		fmt.Fprintf(&top, "// %s changed since generation if this fails: run \"pilotage generate\".\nvar _ = %s.RunPilotageGenerateIfThisFails[%s](%s)\n\n", f.typ(t), cg, f.typ(t.Underlying()), lit)
	}
	src := f.source(top.Bytes())
	out, err := format.Source(src)
	if err != nil {
		return nil, fmt.Errorf("formatting generated code for %s (a bug in pilotage generate): %w\n%s", g.pkg.PkgPath, err, src)
	}
	return out, nil
}

// registerInterface writes the RegisterInterface call of c.
func (g *pkgGen) registerInterface(c *component) {
	f, cg := g.f, g.f.codegen()
	var methods, handlers []string
	s := f.l("s")
	for _, m := range c.methods {
		methods = append(methods, fmt.Sprintf("{Name: %q, Idempotent: %t},\n", m.Name(), c.idem[m.Name()]))
		handlers = append(handlers, s+"."+m.Name())
	}
	server := "return nil"
	if len(c.methods) > 0 {
		server = fmt.Sprintf("%s := %s{%s.(%s)}\nreturn []%s.Handler{%s}", s, serverType(c), f.l("impl"), f.typ(c.named), cg, strings.Join(handlers, ", "))
	}
	f.printf("%s.RegisterInterface(%s.Interface{\nName: %q,\nType: %s.TypeFor[%s](),\nMethods: []%s.Method{\n%s},\n",
		cg, cg, c.name, f.imp("reflect", "reflect"), f.typ(c.named), cg, strings.Join(methods, ""))
	f.printf("ClientStub: func(%s %s.Caller) any { return %s{%s} },\n", f.l("c"), cg, clientType(c), f.l("c"))
	f.printf("ServerStub: func(%s any) []%s.Handler {\n%s\n},\n})\n", f.l("impl"), cg, server)
}

// registerImpl writes the RegisterImplementation call of im.
func (g *pkgGen) registerImpl(im *impl) {
	f, cg := g.f, g.f.codegen()
	var refs []string
	seen := map[string]bool{}
	for _, r := range im.refs {
		if !seen[r.comp.name] {
			seen[r.comp.name] = true
			refs = append(refs, fmt.Sprintf("%q", r.comp.name))
		}
	}
	refList := "nil"
	if len(refs) > 0 {
		refList = "[]string{" + strings.Join(refs, ", ") + "}"
	}
	rf := f.imp("reflect", "reflect")
	f.printf("%s.RegisterImplementation(%s.Implementation{\nInterface: %s.TypeFor[%s](),\nType: %s.TypeFor[%s](),\nRefs: %s,\nLocalStub: func(%s any) any { return %s{%s.(*%s)} },\n})\n",
		cg, cg, rf, f.typ(im.comp.named), rf, im.obj.Name(), refList, f.l("impl"), localType(im), f.l("impl"), im.obj.Name())
}

// errorVars returns the exported package-level Err* variables of an error type.
func (g *pkgGen) errorVars() []string {
	var out []string
	scope := g.pkg.Types.Scope()
	for _, name := range scope.Names() {
		v, ok := scope.Lookup(name).(*types.Var)
		if ok && v.Exported() && strings.HasPrefix(name, "Err") && types.Implements(v.Type(), errorType.Underlying().(*types.Interface)) {
			out = append(out, name)
		}
	}
	return out
}
