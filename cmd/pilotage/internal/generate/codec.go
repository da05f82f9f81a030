package generate

import (
	"fmt"
	"go/types"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/tools/go/types/typeutil"
)

// protocodecPath is the import path of the protocol buffer codec helpers.
const protocodecPath = codegenPath + "/protocodec"

// codecs writes the encoding and decoding of values. Basic values are coded
// inline; every other type gets a pair of functions
//
//	func pilotage_enc_X(enc *codegen.Encoder, v *T)
//	func pilotage_dec_X(dec *codegen.Decoder, v *T)
//
// emitted once per file, on demand.
type codecs struct {
	f       *genFile
	names   typeutil.Map // types.Type -> string: function name suffix
	taken   map[string]bool
	pending []types.Type
	checks  []types.Type    // named types whose structure is coded: stale checks
	values  map[string]bool // Decoder variables that are values, not pointers
}

func newCodecs(f *genFile) *codecs {
	return &codecs{f: f, taken: map[string]bool{}, values: map[string]bool{}}
}

// basicMethods maps basic kinds to the Encoder/Decoder method coding them.
var basicMethods = map[types.BasicKind]string{
	types.Bool: "Bool", types.Int: "Int", types.Int8: "Int8", types.Int16: "Int16",
	types.Int32: "Int32", types.Int64: "Int64", types.Uint: "Uint", types.Uint8: "Uint8",
	types.Uint16: "Uint16", types.Uint32: "Uint32", types.Uint64: "Uint64",
	types.Uintptr: "Uintptr", types.Float32: "Float32", types.Float64: "Float64",
	types.Complex64: "Complex64", types.Complex128: "Complex128", types.String: "String",
}

// inline reports how t is coded without a function: the Encoder method name,
// the Go type the method takes, and whether a conversion is needed.
func (c *codecs) inline(t types.Type) (method, goType string, convert bool) {
	t = types.Unalias(t)
	switch {
	case isError(t):
		return "Error", "error", false
	case isTime(t):
		return "Time", "", false
	}
	if n, ok := t.(*types.Named); ok && (isProto(n) || isBinary(n)) {
		return "", "", false
	}
	switch u := t.Underlying().(type) {
	case *types.Basic:
		if m, ok := basicMethods[u.Kind()]; ok {
			_, named := t.(*types.Named)
			return m, types.Typ[u.Kind()].Name(), named
		}
	case *types.Slice:
		if b, ok := types.Unalias(u.Elem()).(*types.Basic); ok && b.Kind() == types.Uint8 {
			_, named := t.(*types.Named)
			return "Bytes", "[]byte", named
		}
	}
	return "", "", false
}

// encode returns statements writing the addressable expression x of type t to
// the Encoder named enc.
func (c *codecs) encode(t types.Type, x, enc string) string {
	if m, goType, convert := c.inline(t); m != "" {
		x = deparen(x)
		if convert {
			x = goType + "(" + x + ")"
		}
		return fmt.Sprintf("%s.%s(%s)\n", enc, m, x)
	}
	return fmt.Sprintf("pilotage_enc_%s(%s, %s)\n", c.fn(t), enc, addr(x))
}

// decode returns statements reading a value of type t from the Decoder named
// dec into the addressable expression x.
func (c *codecs) decode(t types.Type, x, dec string) string {
	if m, _, convert := c.inline(t); m != "" {
		x = deparen(x)
		if convert {
			return fmt.Sprintf("%s = %s(%s.%s())\n", x, c.f.typ(t), dec, m)
		}
		return fmt.Sprintf("%s = %s.%s()\n", x, dec, m)
	}
	arg := dec
	if c.values[dec] {
		arg = "&" + dec
	}
	return fmt.Sprintf("pilotage_dec_%s(%s, %s)\n", c.fn(t), arg, addr(x))
}

// addr returns the address of the addressable expression x.
func addr(x string) string {
	if strings.HasPrefix(x, "(*") && strings.HasSuffix(x, ")") && strings.Count(x, "(") == 1 {
		return x[2 : len(x)-1]
	}
	return "&" + x
}

// deparen turns "(*x)" into "*x".
func deparen(x string) string {
	if strings.HasPrefix(x, "(*") && strings.HasSuffix(x, ")") && strings.Count(x, "(") == 1 {
		return x[1 : len(x)-1]
	}
	return x
}

var nonIdent = regexp.MustCompile(`[^A-Za-z0-9]+`)

// fn returns the function name suffix for t, queueing its functions.
func (c *codecs) fn(t types.Type) string {
	if n, ok := c.names.At(t).(string); ok {
		return n
	}
	base := strings.Trim(nonIdent.ReplaceAllString(c.mangle(t), "_"), "_")
	name := base
	for i := 2; c.taken[name]; i++ {
		name = base + strconv.Itoa(i)
	}
	c.taken[name] = true
	c.names.Set(t, name)
	c.pending = append(c.pending, t)
	return name
}

// mangle returns a readable name for t.
func (c *codecs) mangle(t types.Type) string {
	switch t := types.Unalias(t).(type) {
	case *types.Named:
		s := t.Obj().Name()
		if p := t.Obj().Pkg(); p != nil && p.Path() != c.f.pkg.Path() {
			s = p.Name() + "_" + s
		}
		for i := 0; i < t.TypeArgs().Len(); i++ {
			s += "_" + c.mangle(t.TypeArgs().At(i))
		}
		return s
	case *types.Basic:
		return t.Name()
	case *types.Pointer:
		return "ptr_" + c.mangle(t.Elem())
	case *types.Slice:
		return "slice_" + c.mangle(t.Elem())
	case *types.Array:
		return fmt.Sprintf("array%d_%s", t.Len(), c.mangle(t.Elem()))
	case *types.Map:
		return "map_" + c.mangle(t.Key()) + "_" + c.mangle(t.Elem())
	case *types.Struct:
		return "struct"
	}
	return "type"
}

// emitPending writes the functions of every queued type (and of the types
// they queue in turn).
func (c *codecs) emitPending() {
	for len(c.pending) > 0 {
		t := c.pending[0]
		c.pending = c.pending[1:]
		c.emit(t)
	}
}

// emit writes the encoding and decoding functions of t.
func (c *codecs) emit(t types.Type) {
	f, cg := c.f, c.f.codegen()
	name, ts := c.fn(t), c.f.typ(t)
	enc, dec, v := f.l("enc"), f.l("d"), f.l("v")
	var eb, db strings.Builder
	if n, ok := types.Unalias(t).(*types.Named); ok && isProto(n) {
		pc := f.imp(protocodecPath, "protocodec")
		fmt.Fprintf(&eb, "%s.Encode(%s, %s)\n", pc, enc, v)
		fmt.Fprintf(&db, "%s.Decode(%s, %s)\n", pc, dec, v)
	} else if ok && isBinary(n) {
		fmt.Fprintf(&eb, "%s.BinaryMarshaler(%s)\n", enc, v)
		fmt.Fprintf(&db, "%s.BinaryUnmarshaler(%s)\n", dec, v)
	} else {
		if ok {
			c.checks = append(c.checks, n)
		}
		c.structure(t, &eb, &db)
	}
	f.printf("func pilotage_enc_%s(%s *%s.Encoder, %s *%s) {\n%s}\n\n", name, enc, cg, v, ts, eb.String())
	f.printf("func pilotage_dec_%s(%s *%s.Decoder, %s *%s) {\n%s}\n\n", name, dec, cg, v, ts, db.String())
}

// structure writes the bodies coding *v by the structure of t's underlying type.
func (c *codecs) structure(t types.Type, eb, db *strings.Builder) {
	f := c.f
	enc, dec, v, i, n := f.l("enc"), f.l("d"), f.l("v"), f.l("i"), f.l("n")
	ts := f.typ(t)
	elem := "(*" + v + ")[" + i + "]"
	switch u := t.Underlying().(type) {
	case *types.Struct:
		for j := 0; j < u.NumFields(); j++ {
			fl := u.Field(j)
			if fl.Name() == "_" {
				continue
			}
			eb.WriteString(c.encode(fl.Type(), v+"."+fl.Name(), enc))
			db.WriteString(c.decode(fl.Type(), v+"."+fl.Name(), dec))
		}
	case *types.Pointer:
		fmt.Fprintf(eb, "if *%s == nil {\n%s.Bool(false)\nreturn\n}\n%s.Bool(true)\n", v, enc, enc)
		eb.WriteString(c.encode(u.Elem(), "(**"+v+")", enc))
		fmt.Fprintf(db, "if !%s.Bool() {\n*%s = nil\nreturn\n}\n*%s = new(%s)\n", dec, v, v, f.typ(u.Elem()))
		db.WriteString(c.decode(u.Elem(), "(**"+v+")", dec))
	case *types.Slice:
		fmt.Fprintf(eb, "if *%s == nil {\n%s.Len(-1)\nreturn\n}\n%s.Len(len(*%s))\nfor %s := range *%s {\n%s}\n",
			v, enc, enc, v, i, v, c.encode(u.Elem(), elem, enc))
		fmt.Fprintf(db, "%s := %s.Len()\nif %s < 0 {\n*%s = nil\nreturn\n}\n*%s = make(%s, %s)\nfor %s := range *%s {\n%s}\n",
			n, dec, n, v, v, ts, n, i, v, c.decode(u.Elem(), elem, dec))
	case *types.Array:
		fmt.Fprintf(eb, "for %s := range len(*%s) {\n%s}\n", i, v, c.encode(u.Elem(), elem, enc))
		fmt.Fprintf(db, "for %s := range len(*%s) {\n%s}\n", i, v, c.decode(u.Elem(), elem, dec))
	case *types.Map:
		k, e := f.l("k"), f.l("e")
		fmt.Fprintf(eb, "if *%s == nil {\n%s.Len(-1)\nreturn\n}\n%s.Len(len(*%s))\nfor %s, %s := range *%s {\n%s%s}\n",
			v, enc, enc, v, k, e, v, c.encode(u.Key(), k, enc), c.encode(u.Elem(), e, enc))
		fmt.Fprintf(db, "%s := %s.Len()\nif %s < 0 {\n*%s = nil\nreturn\n}\n*%s = make(%s, %s)\nfor range %s {\nvar %s %s\nvar %s %s\n%s%s(*%s)[%s] = %s\n}\n",
			n, dec, n, v, v, ts, n, n, k, f.typ(u.Key()), e, f.typ(u.Elem()),
			c.decode(u.Key(), k, dec), c.decode(u.Elem(), e, dec), v, k, e)
	default:
		// Basic types are coded inline; validation rejects everything else.
		fmt.Fprintf(eb, "%s", c.encode(t, "(*"+v+")", enc))
		fmt.Fprintf(db, "%s", c.decode(t, "(*"+v+")", dec))
	}
}
