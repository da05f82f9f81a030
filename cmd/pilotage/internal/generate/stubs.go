package generate

import (
	"fmt"
	"go/types"
	"strings"
)

// methodSig holds the parameter and result variables of a component method,
// less the leading context.Context and the trailing error.
type methodSig struct {
	params, results []*types.Var
}

func sigOf(m *types.Func) methodSig {
	sig := m.Type().(*types.Signature)
	var s methodSig
	for i := 1; i < sig.Params().Len(); i++ {
		s.params = append(s.params, sig.Params().At(i))
	}
	for i := 0; i < sig.Results().Len()-1; i++ {
		s.results = append(s.results, sig.Results().At(i))
	}
	return s
}

// clientType, serverType and localType name the generated stub types.
func clientType(c *component) string { return "pilotage_" + c.named.Obj().Name() + "_client" }
func serverType(c *component) string { return "pilotage_" + c.named.Obj().Name() + "_server" }
func localType(im *impl) string      { return "pilotage_" + im.obj.Name() + "_local" }

// paramList writes "ctx context.Context, a0 T0, a1 T1" and returns it with
// the argument names.
func (g *pkgGen) paramList(s methodSig) (decl string, names []string) {
	f := g.f
	parts := []string{f.l("ctx") + " " + g.ctxType()}
	for i, p := range s.params {
		n := f.l(fmt.Sprintf("a%d", i))
		names = append(names, n)
		parts = append(parts, n+" "+f.typ(p.Type()))
	}
	return strings.Join(parts, ", "), names
}

// zeroResults returns "*new(R0), *new(R1), " for the non-error results.
func (g *pkgGen) zeroResults(s methodSig) string {
	var b strings.Builder
	for _, r := range s.results {
		fmt.Fprintf(&b, "*new(%s), ", g.f.typ(r.Type()))
	}
	return b.String()
}

// resultTypes returns "(R0, R1, error)".
func (g *pkgGen) resultTypes(s methodSig) string {
	var parts []string
	for _, r := range s.results {
		parts = append(parts, g.f.typ(r.Type()))
	}
	return "(" + strings.Join(append(parts, "error"), ", ") + ")"
}

// interfaceStubs writes the client and server stubs of component c.
func (g *pkgGen) interfaceStubs(c *component) {
	f, cg := g.f, g.f.codegen()
	ctx, enc, dec, res, err, appErr, s := f.l("ctx"), f.l("enc"), f.l("dec"), f.l("res"), f.l("err"), f.l("appErr"), f.l("s")
	ct, st := clientType(c), serverType(c)
	g.codecs.values[dec] = true
	f.printf("// %s calls %s through a codegen.Caller.\ntype %s struct{ c %s.Caller }\n\n", ct, c.named.Obj().Name(), ct, cg)
	for idx, m := range c.methods {
		sig := sigOf(m)
		decl, args := g.paramList(sig)
		zero := g.zeroResults(sig)
		f.printf("func (%s %s) %s(%s) %s {\n", s, ct, m.Name(), decl, g.resultTypes(sig))
		fm := f.imp("fmt", "fmt")
		data := "nil"
		if len(sig.params) > 0 {
			f.printf("%s := %s.GetEncoder()\ndefer %s.PutEncoder(%s)\n", enc, cg, cg, enc)
			for i, p := range sig.params {
				f.printf("%s", g.codecs.encode(p.Type(), args[i], enc))
			}
			f.printf("if %s := %s.Err(); %s != nil {\nreturn %s%s.Errorf(\"pilotage: encoding arguments of %s.%s: %%w\", %s)\n}\n", err, enc, err, zero, fm, c.name, m.Name(), err)
			data = enc + ".Data()"
		}
		f.printf("%s, %s := %s.c.Call(%s, %d, %s)\nif %s != nil {\nreturn %s%s\n}\n", res, err, s, ctx, idx, data, err, zero, err)
		f.printf("var %s %s.Decoder\n%s.ResetOwned(%s)\n", dec, cg, dec, res)
		var outs []string
		for i, r := range sig.results {
			n := f.l(fmt.Sprintf("r%d", i))
			outs = append(outs, n)
			f.printf("var %s %s\n%s", n, f.typ(r.Type()), g.codecs.decode(r.Type(), n, dec))
		}
		f.printf("%s := %s.Error()\n", appErr, dec)
		f.printf("if %s := %s.Done(); %s != nil {\nreturn %s%s.Errorf(\"pilotage: decoding results of %s.%s: %%w\", %s)\n}\n", err, dec, err, zero, fm, c.name, m.Name(), err)
		f.printf("return %s\n}\n\n", strings.Join(append(outs, appErr), ", "))
	}

	f.printf("// %s serves calls to %s from encoded arguments.\ntype %s struct{ impl %s }\n\n", st, c.named.Obj().Name(), st, f.typ(c.named))
	for _, m := range c.methods {
		sig := sigOf(m)
		args := f.l("args")
		out := f.l("out")
		f.printf("func (%s %s) %s(%s %s, %s []byte, %s *%s.Encoder) (%s error) {\n", s, st, m.Name(), ctx, g.ctxType(), args, out, cg, err)
		g.recoverPanic(c, m)
		f.printf("var %s %s.Decoder\n%s.ResetOwned(%s)\n", dec, cg, dec, args)
		var as []string
		for i, p := range sig.params {
			n := f.l(fmt.Sprintf("a%d", i))
			as = append(as, n)
			f.printf("var %s %s\n%s", n, f.typ(p.Type()), g.codecs.decode(p.Type(), n, dec))
		}
		f.printf("if %s := %s.Done(); %s != nil {\nreturn %s\n}\n", err, dec, err, err)
		var rs []string
		for i := range sig.results {
			rs = append(rs, f.l(fmt.Sprintf("r%d", i)))
		}
		f.printf("%s := %s.impl.%s(%s)\n", strings.Join(append(rs, appErr), ", "), s, m.Name(), strings.Join(append([]string{ctx}, as...), ", "))
		for i, r := range sig.results {
			f.printf("%s", g.codecs.encode(r.Type(), rs[i], out))
		}
		f.printf("%s.Error(%s)\nreturn %s.Err()\n}\n\n", out, appErr, out)
	}
}

// recoverPanic writes a deferred recover that turns a panic into the named
// result err.
func (g *pkgGen) recoverPanic(c *component, m *types.Func) {
	f := g.f
	r := f.l("r")
	f.printf("defer func() {\nif %s := recover(); %s != nil {\n%s = %s.PanicError(%q, %q, %s)\n}\n}()\n", r, r, f.l("err"), f.codegen(), c.name, m.Name(), r)
}

// localStub writes the stub that calls implementation im directly, in a
// span of its own while the runtime traces.
func (g *pkgGen) localStub(im *impl) {
	f := g.f
	c := im.comp
	lt, s := localType(im), f.l("s")
	f.printf("// %s calls *%s directly, turning panics into errors.\ntype %s struct{ impl *%s }\n\n", lt, im.obj.Name(), lt, im.obj.Name())
	for _, m := range c.methods {
		sig := sigOf(m)
		decl, args := g.paramList(sig)
		var named []string
		for i, r := range sig.results {
			named = append(named, fmt.Sprintf("%s %s", f.l(fmt.Sprintf("r%d", i)), f.typ(r.Type())))
		}
		named = append(named, f.l("err")+" error")
		f.printf("func (%s %s) %s(%s) (%s) {\n", s, lt, m.Name(), decl, strings.Join(named, ", "))
		// A span, while the runtime traces (codegen.StartLocal).
		ctx, end, r := f.l("ctx"), f.l("end"), f.l("r")
		f.printf("%s, %s := %s.StartLocal(%s, %q, %q)\n", ctx, end, f.codegen(), ctx, c.name, m.Name())
		f.printf("defer func() {\nif %s := recover(); %s != nil {\n%s = %s.PanicError(%q, %q, %s)\n}\n%s(%s)\n}()\n", r, r, f.l("err"), f.codegen(), c.name, m.Name(), r, end, f.l("err"))
		f.printf("return %s.impl.%s(%s)\n}\n\n", s, m.Name(), strings.Join(append([]string{ctx}, args...), ", "))
	}
}

// interfaceCheck returns an interface literal with c's methods, as generated.
func (g *pkgGen) interfaceCheck(c *component) string {
	var b strings.Builder
	b.WriteString("interface {\n")
	for _, m := range c.methods {
		sig := m.Type().(*types.Signature)
		fmt.Fprintf(&b, "%s(%s) (%s)\n", m.Name(), g.typeList(sig.Params()), g.typeList(sig.Results()))
	}
	b.WriteString("}")
	return b.String()
}

// typeList returns the types of a tuple, without names, separated by commas.
func (g *pkgGen) typeList(t *types.Tuple) string {
	parts := make([]string, t.Len())
	for i := range parts {
		parts[i] = g.f.typ(t.At(i).Type())
	}
	return strings.Join(parts, ", ")
}
