package generate

import (
	"bytes"
	"fmt"
	"go/format"
	"sort"
	"strings"

	"github.com/pilotage/pilotage/internal/fingerprint"
	"github.com/pilotage/pilotage/internal/graph"
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
	errs    []errorVar   // errors to register, sorted by key
	// fingerprint summarizes the sources the file was generated from.
	fingerprint string
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

// setFingerprint records the fingerprint of the package's sources, if the
// package is in a module.
func (g *pkgGen) setFingerprint() error {
	m := g.pkg.Module
	if m == nil || m.Dir == "" {
		return nil
	}
	fp, err := fingerprint.Module{Root: m.Dir, Path: m.Path}.Of(g.pkg.PkgPath)
	if err != nil {
		return fmt.Errorf("fingerprint of %s: %w", g.pkg.PkgPath, err)
	}
	g.fingerprint = fp
	return nil
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
		record, err := graphRecord(im)
		if err != nil {
			return nil, err
		}
		g.registerImpl(im, record)
	}
	for _, v := range g.errs {
		name := v.obj.Name()
		if v.pkg.Path() != g.pkg.PkgPath {
			name = f.imp(v.pkg.Path(), v.pkg.Name()) + "." + name
		}
		f.printf("%s.RegisterError(%q, %s)\n", cg, v.key(), name)
	}
	f.printf("}\n\n")
	if g.main != nil {
		f.printf("// RunPilotageGenerate marks %s as the main component of a generated application.\nfunc (*%s) RunPilotageGenerate() {}\n\n", g.main.obj.Name(), g.main.obj.Name())
	}
	for _, c := range g.comps {
		g.interfaceStubs(c)
		g.jsonStubs(c)
	}
	for _, im := range g.impls {
		g.localStub(im)
	}
	g.codecs.emitPending()
	f.blank = g.imports

	var top bytes.Buffer
	top.WriteString("// If a check below fails to compile, this file is out of date: run \"pilotage generate\".\n\n")
	if g.fingerprint != "" {
		fmt.Fprintf(&top, "// What this file was generated from, which pilotagetest compares with the\n// sources to report a file that compiles but is out of date.\n%s%s\n\n", fingerprint.Marker, g.fingerprint)
	}
	fmt.Fprintf(&top, "// Version check: run \"pilotage generate\" if this fails.\nvar _ %s.LatestVersion = %s.Version[[0][%d]struct{}](\"\\n\\nERROR: this file was written by another version of pilotage generate; run \\\"pilotage generate\\\" again.\\n\\n\")\n\n", cg, cg, codegenVersion)
	sc := &staleChecks{f: f, top: &top, names: map[string]string{}}
	for _, c := range g.comps {
		iface := f.typ(c.named)
		generated := f.unique("pilotage_" + c.named.Obj().Name() + "_generated")
		fmt.Fprintf(&top, "// %s has the methods below as generated.\ntype %s %s\n\n", iface, generated, g.interfaceCheck(c))
		sc.add(iface+" lost or changed a method", c.named.Obj().Name()+"_generated", generated, iface)
		sc.add(iface+" gained or changed a method", iface, iface, clientType(c))
	}
	for _, im := range g.impls {
		if !im.comp.isMain {
			iface := f.typ(im.comp.named)
			sc.add(iface+" changed", iface, iface, localType(im))
		}
	}
	for _, t := range g.codecs.checks {
		sc.add(f.typ(t)+" changed", f.typ(t)+"_generated", "~"+f.typ(t.Underlying()), f.typ(t))
	}
	src := f.source(top.Bytes())
	out, err := format.Source(src)
	if err != nil {
		return nil, fmt.Errorf("formatting generated code for %s (a bug in pilotage generate): %w\n%s", g.pkg.PkgPath, err, src)
	}
	return out, nil
}

// codegenVersion is the version of generated code this generator writes. It
// must match codegen.LatestVersion.
const codegenVersion = 2

// staleChecks writes the declarations that fail to compile once the code has
// changed since generation. Each instantiates a generic type whose
// constraint is what the generator saw with the type as it is now, under a
// local alias whose name tells what to do: the compiler's first line then
// reads "RunPilotageGenerate_ThisFileIsStale does not satisfy Calc
// (missing method New)".
type staleChecks struct {
	f     *genFile
	top   *bytes.Buffer
	names map[string]string // constraint -> generic type checking it
}

// add writes a check that typ satisfies constraint, through a generic type
// named after base; what says what changed when it does not.
func (sc *staleChecks) add(what, base, constraint, typ string) {
	name, ok := sc.names[constraint]
	if !ok {
		name = sc.f.unique("pilotage_is_" + strings.Trim(nonIdent.ReplaceAllString(base, "_"), "_"))
		sc.names[constraint] = name
		fmt.Fprintf(sc.top, "type %s[T %s] struct{}\n\n", name, constraint)
	}
	fmt.Fprintf(sc.top, "// If this fails, %s since generation: run \"pilotage generate\".\nfunc _() {\ntype %s = %s\nvar _ %s[%s]\n}\n\n", what, staleAlias, typ, name, staleAlias)
}

// staleAlias names the type under check, so that it starts the compiler's
// message.
const staleAlias = "RunPilotageGenerate_ThisFileIsStale"

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
	f.printf("ServerStub: func(%s any) []%s.Handler {\n%s\n},\n", f.l("impl"), cg, server)
	f.printf("JSON: func(%s any) []%s.JSONHandler {\n%s\n},\n})\n", f.l("impl"), cg, g.jsonRegistration(c))
}

// registerImpl writes the RegisterImplementation call of im, whose graph
// record is record.
func (g *pkgGen) registerImpl(im *impl, record string) {
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
	f.printf("%s.RegisterImplementation(%s.Implementation{\nInterface: %s.TypeFor[%s](),\nType: %s.TypeFor[%s](),\nRefs: %s,\nGraph: %q,\nLocalStub: func(%s any) any { return %s{%s.(*%s)} },\n})\n",
		cg, cg, rf, f.typ(im.comp.named), rf, im.obj.Name(), refList, record, f.l("impl"), localType(im), f.l("impl"), im.obj.Name())
}

// graphRecord returns the description of im that the pilotage tool reads
// from the binary (see package graph).
func graphRecord(im *impl) (string, error) {
	c := graph.Component{Name: im.comp.name, Main: im.comp.isMain}
	seen := map[string]bool{}
	for _, r := range im.refs {
		if !seen[r.comp.name] {
			seen[r.comp.name] = true
			c.Refs = append(c.Refs, r.comp.name)
		}
	}
	for _, l := range im.listeners {
		c.Listeners = append(c.Listeners, l.name)
	}
	if im.config != nil {
		c.Config = configSchema(im.config)
	}
	if !im.comp.isMain {
		c.Methods = methodSignatures(im.comp)
	}
	return graph.Record(c)
}
