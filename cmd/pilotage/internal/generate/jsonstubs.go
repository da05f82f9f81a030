package generate

import (
	"fmt"
	"go/types"
	"strings"

	"github.com/pilotage/pilotage/internal/graph"
)

// jsonType names the generated type whose methods serve JSON calls.
func jsonType(c *component) string { return "pilotage_" + c.named.Obj().Name() + "_json" }

// paramName returns the name a JSON call gives parameter i (from 0, after
// the context) of a method: as declared, or "argN" (N from 1) for an
// unnamed or blank one.
func paramName(p *types.Var, i int) string {
	if n := p.Name(); n != "" && n != "_" {
		return n
	}
	return fmt.Sprintf("arg%d", i+1)
}

// jsonStubs writes the JSON handlers of component c (see
// codegen.JSONHandler): each decodes the parameters into typed locals,
// calls the implementation, turning a panic into its error, and encodes
// the results.
func (g *pkgGen) jsonStubs(c *component) {
	f, cg := g.f, g.f.codegen()
	ctx, args, res, appErr, err, s := f.l("ctx"), f.l("args"), f.l("res"), f.l("appErr"), f.l("err"), f.l("s")
	jt := jsonType(c)
	f.printf("// %s serves JSON calls to %s, for operators' tools.\ntype %s struct{ impl %s }\n\n", jt, c.named.Obj().Name(), jt, f.typ(c.named))
	for _, m := range c.methods {
		sig := sigOf(m)
		f.printf("func (%s %s) %s(%s %s, %s []byte) (%s []byte, %s error, %s error) {\n", s, jt, m.Name(), ctx, g.ctxType(), args, res, appErr, err)
		r := f.l("r")
		f.printf("defer func() {\nif %s := recover(); %s != nil {\n%s = %s.PanicError(%q, %q, %s)\n}\n}()\n", r, r, appErr, cg, c.name, m.Name(), r)
		var as, names, ptrs []string
		for i, p := range sig.params {
			n := f.l(fmt.Sprintf("a%d", i))
			as = append(as, n)
			names = append(names, fmt.Sprintf("%q", paramName(p, i)))
			ptrs = append(ptrs, "&"+n)
			f.printf("var %s %s\n", n, f.typ(p.Type()))
		}
		if len(sig.params) > 0 {
			f.printf("if %s := %s.DecodeJSONArgs(%s, []string{%s}, %s); %s != nil {\nreturn nil, nil, %s\n}\n",
				err, cg, args, strings.Join(names, ", "), strings.Join(ptrs, ", "), err, err)
		} else {
			f.printf("if %s := %s.DecodeJSONArgs(%s, nil); %s != nil {\nreturn nil, nil, %s\n}\n", err, cg, args, err, err)
		}
		var rs []string
		for i, rt := range sig.results {
			n := f.l(fmt.Sprintf("r%d", i))
			rs = append(rs, n)
			f.printf("var %s %s\n", n, f.typ(rt.Type()))
		}
		f.printf("%s = %s.impl.%s(%s)\n", strings.Join(append(rs, appErr), ", "), s, m.Name(), strings.Join(append([]string{ctx}, as...), ", "))
		f.printf("%s, %s = %s.EncodeJSONResults(%s)\nreturn %s, %s, %s\n}\n\n", res, err, cg, strings.Join(rs, ", "), res, appErr, err)
	}
}

// jsonRegistration returns the body of the JSON function of c's
// registration.
func (g *pkgGen) jsonRegistration(c *component) string {
	if len(c.methods) == 0 {
		return "return nil"
	}
	f := g.f
	s := f.l("s")
	var handlers []string
	for _, m := range c.methods {
		handlers = append(handlers, s+"."+m.Name())
	}
	return fmt.Sprintf("%s := %s{%s.(%s)}\nreturn []%s.JSONHandler{%s}", s, jsonType(c), f.l("impl"), f.typ(c.named), f.codegen(), strings.Join(handlers, ", "))
}

// methodSignatures describes the methods of c for the component graph,
// their types as written in the interface's package.
func methodSignatures(c *component) []graph.Method {
	pkg := c.named.Obj().Pkg()
	qual := func(p *types.Package) string {
		if p == pkg {
			return ""
		}
		return p.Name()
	}
	var out []graph.Method
	for _, m := range c.methods {
		sig := sigOf(m)
		gm := graph.Method{Name: m.Name(), Params: []graph.Param{}, Results: []string{}}
		for i, p := range sig.params {
			gm.Params = append(gm.Params, graph.Param{Name: paramName(p, i), Type: types.TypeString(p.Type(), qual)})
		}
		for _, r := range sig.results {
			gm.Results = append(gm.Results, types.TypeString(r.Type(), qual))
		}
		out = append(out, gm)
	}
	return out
}
