package generate

import (
	"go/ast"
	"go/token"
	"go/types"
	"reflect"
	"sort"
	"strings"

	"golang.org/x/tools/go/packages"
)

// pilotagePath is the import path of the root package of the framework.
const pilotagePath = "github.com/pilotage/pilotage"

// codegenPath is the import path of the runtime package generated code uses.
const codegenPath = pilotagePath + "/codegen"

// mainName is the full name of the root component interface.
const mainName = pilotagePath + ".Main"

// A component is a component interface and what was found about it.
type component struct {
	name    string       // full name: "import/path.Iface"
	named   *types.Named // the interface type
	iface   *types.Interface
	isMain  bool
	impls   []*impl
	methods []*types.Func   // in types.Interface order (sorted by name); the method index
	idem    map[string]bool // idempotent method names
	usePos  token.Pos       // where the interface was first named in Implements or Ref
}

// pkgPath returns the import path of the package declaring the interface.
func (c *component) pkgPath() string { return c.named.Obj().Pkg().Path() }

// shortName is "pkgname.Iface", for messages.
func (c *component) shortName() string {
	return c.named.Obj().Pkg().Name() + "." + c.named.Obj().Name()
}

// An impl is a struct that embeds pilotage.Implements[I].
type impl struct {
	obj       *types.TypeName
	pkg       *packages.Package
	comp      *component
	pos       token.Pos // the Implements field
	refs      []ref
	listeners []listener
	config    types.Type // the type argument of its pilotage.WithConfig; nil if none
}

// name is "pkgname.type", for messages.
func (im *impl) name() string { return im.obj.Pkg().Name() + "." + im.obj.Name() }

// A ref is a pilotage.Ref[J] field.
type ref struct {
	comp *component
	pos  token.Pos
}

// A listener is a pilotage.Listener field.
type listener struct {
	name  string
	field string
	pos   token.Pos
}

// An app is everything discovered in the loaded packages.
type app struct {
	pkgs   []*packages.Package
	byPath map[string]*packages.Package
	comps  map[string]*component
	impls  []*impl
	// idemMarks are the "var _ pilotage.Idempotent = I.M" declarations.
	idemMarks []idemMark

	ld    loader
	extra map[string]*packages.Package // packages loaded for their errors only
	// registered holds the keys of the errors generated files register.
	registered map[string]bool
}

type idemMark struct {
	iface  *types.Named
	method string
	pos    token.Pos
}

// sortedComps returns the components sorted by name.
func (a *app) sortedComps() []*component {
	out := make([]*component, 0, len(a.comps))
	for _, c := range a.comps {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// isPilotage reports whether t is the pilotage type (or generic type) name.
func isPilotage(t types.Type, name string) bool {
	n, ok := types.Unalias(t).(*types.Named)
	if !ok {
		return false
	}
	obj := n.Origin().Obj()
	return obj.Pkg() != nil && obj.Pkg().Path() == pilotagePath && obj.Name() == name
}

// fullName is "import/path.Name" for a named type.
func fullName(n *types.Named) string {
	obj := n.Obj()
	if obj.Pkg() == nil {
		return obj.Name()
	}
	return obj.Pkg().Path() + "." + obj.Name()
}

// discover finds components, implementations and idempotency marks.
func discover(ld loader, pkgs []*packages.Package, ps *problems) *app {
	a := &app{ld: ld, pkgs: pkgs, byPath: map[string]*packages.Package{}, comps: map[string]*component{}}
	for _, p := range pkgs {
		a.byPath[p.PkgPath] = p
	}
	for _, p := range pkgs {
		if p.Types == nil {
			continue
		}
		scope := p.Types.Scope()
		for _, name := range scope.Names() {
			tn, ok := scope.Lookup(name).(*types.TypeName)
			if !ok || tn.IsAlias() {
				continue
			}
			a.discoverType(p, tn, ps)
		}
		a.findIdempotent(p)
	}
	for _, c := range a.comps {
		sort.Slice(c.impls, func(i, j int) bool { return c.impls[i].pos < c.impls[j].pos })
	}
	return a
}

// discoverType records tn if it is a component implementation.
func (a *app) discoverType(p *packages.Package, tn *types.TypeName, ps *problems) {
	named, ok := tn.Type().(*types.Named)
	if !ok {
		return
	}
	st, ok := named.Underlying().(*types.Struct)
	if !ok {
		return
	}
	var im *impl
	for i := 0; i < st.NumFields(); i++ {
		f := st.Field(i)
		if !f.Embedded() || !isPilotage(f.Type(), "Implements") {
			continue
		}
		if im != nil {
			ps.addf(f.Pos(), "%s embeds pilotage.Implements twice; a struct implements one component: keep one", tn.Name())
			continue
		}
		if named.TypeParams().Len() > 0 {
			ps.addf(tn.Pos(), "%s is generic; a component implementation cannot have type parameters: remove them", tn.Name())
			return
		}
		c := a.component(typeArg(f.Type()), f.Pos(), "Implements", ps)
		if c == nil {
			return
		}
		im = &impl{obj: tn, pkg: p, comp: c, pos: f.Pos()}
	}
	if im == nil {
		return
	}
	for i := 0; i < st.NumFields(); i++ {
		f := st.Field(i)
		switch {
		case isPilotage(f.Type(), "Ref"):
			if f.Embedded() {
				ps.addf(f.Pos(), "embedded pilotage.Ref in %s: give the field a name", tn.Name())
				continue
			}
			if c := a.component(typeArg(f.Type()), f.Pos(), "Ref", ps); c != nil {
				if c.isMain {
					ps.addf(f.Pos(), "%s.%s is a Ref to pilotage.Main; the main component cannot be referenced: remove the field", tn.Name(), f.Name())
					continue
				}
				im.refs = append(im.refs, ref{comp: c, pos: f.Pos()})
			}
		case isPilotage(f.Type(), "WithConfig"):
			im.config = typeArg(f.Type())
		case isPilotage(f.Type(), "Listener"):
			name := strings.ToLower(f.Name())
			if tag, ok := reflect.StructTag(st.Tag(i)).Lookup("pilotage"); ok && tag != "" {
				name = tag
			}
			im.listeners = append(im.listeners, listener{name: name, field: f.Name(), pos: f.Pos()})
		}
	}
	im.comp.impls = append(im.comp.impls, im)
	a.impls = append(a.impls, im)
}

// typeArg returns the type argument of an instance of a one-parameter generic type.
func typeArg(t types.Type) types.Type {
	n := types.Unalias(t).(*types.Named)
	if n.TypeArgs().Len() != 1 {
		return nil
	}
	return n.TypeArgs().At(0)
}

// component returns the component for interface t, named in a pilotage.kind
// field at pos, recording it on first sight. It reports unusable types.
func (a *app) component(t types.Type, pos token.Pos, kind string, ps *problems) *component {
	if t == nil {
		return nil
	}
	n, ok := types.Unalias(t).(*types.Named)
	if !ok {
		ps.addf(pos, "pilotage.%s[%s]: %s is not a named interface type; declare a named interface (type X interface{...}) and use it", kind, t, t)
		return nil
	}
	iface, ok := n.Underlying().(*types.Interface)
	if !ok {
		ps.addf(pos, "pilotage.%s[%s]: %s is not an interface type; a component is an interface implemented by a struct", kind, n.Obj().Name(), n.Obj().Name())
		return nil
	}
	if n.TypeArgs().Len() > 0 || n.TypeParams().Len() > 0 {
		ps.addf(pos, "pilotage.%s[%s]: generic component interfaces are not supported; use a non-generic interface", kind, shortType(n))
		return nil
	}
	name := fullName(n)
	if c, ok := a.comps[name]; ok {
		return c
	}
	c := &component{name: name, named: n, iface: iface, isMain: name == mainName, idem: map[string]bool{}, usePos: pos}
	for i := 0; i < iface.NumMethods(); i++ {
		c.methods = append(c.methods, iface.Method(i))
	}
	a.comps[name] = c
	return c
}

// findIdempotent records "var _ pilotage.Idempotent = I.Method" declarations in p.
func (a *app) findIdempotent(p *packages.Package) {
	for _, f := range p.Syntax {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				if vs.Type == nil || !isPilotage(p.TypesInfo.TypeOf(vs.Type), "Idempotent") {
					continue
				}
				for _, v := range vs.Values {
					a.idemMark(p, v)
				}
			}
		}
	}
}

// idemMark records one value assigned to a pilotage.Idempotent variable.
func (a *app) idemMark(p *packages.Package, v ast.Expr) {
	m := idemMark{pos: v.Pos()}
	if sel, ok := ast.Unparen(v).(*ast.SelectorExpr); ok {
		if s := p.TypesInfo.Selections[sel]; s != nil && s.Kind() == types.MethodExpr {
			if n, ok := types.Unalias(s.Recv()).(*types.Named); ok {
				m.iface, m.method = n, s.Obj().Name()
			}
		}
	}
	a.idemMarks = append(a.idemMarks, m)
}
