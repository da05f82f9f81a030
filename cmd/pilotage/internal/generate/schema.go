package generate

import (
	"go/types"
	"reflect"
	"strings"

	"github.com/pilotage/pilotage/internal/graph"
)

// configSchema returns the shape of configuration type t as the TOML
// decoder (github.com/BurntSushi/toml) sees it: the keys of each table and
// the kind of each value, for the pilotage tool to check configuration
// files with before it starts anything. Where the decoder's behaviour is
// beyond a schema (a custom UnmarshalTOML, a type it does not support, a
// recursive type) the shape is graph.Custom and the proclet's own strict
// check decides.
func configSchema(t types.Type) *graph.Type {
	return (&schemaWalker{inside: map[*types.Named]bool{}}).typ(t)
}

type schemaWalker struct {
	inside map[*types.Named]bool // named types being walked: a recursive type stops at them
}

func (w *schemaWalker) typ(t types.Type) *graph.Type {
	t = types.Unalias(t)
	if n, ok := t.(*types.Named); ok {
		obj := n.Obj()
		if obj.Pkg() != nil && obj.Pkg().Path() == "time" {
			switch obj.Name() {
			case "Duration":
				return &graph.Type{Kind: graph.Duration}
			case "Time":
				return &graph.Type{Kind: graph.Datetime}
			}
		}
		if w.inside[n] {
			return &graph.Type{Kind: graph.Custom}
		}
		w.inside[n] = true
		defer delete(w.inside, n)
	}
	// The decoder tries these before looking at the kind, on the value's
	// address.
	if _, isPtr := t.(*types.Pointer); !isPtr {
		switch {
		case hasMethod(types.NewPointer(t), "UnmarshalTOML", 1, 1):
			return &graph.Type{Kind: graph.Custom}
		case hasMethod(types.NewPointer(t), "UnmarshalText", 1, 1):
			return &graph.Type{Kind: graph.Text}
		}
	}
	switch u := t.Underlying().(type) {
	case *types.Basic:
		if k, ok := basicKinds[u.Kind()]; ok {
			return &graph.Type{Kind: k}
		}
	case *types.Pointer:
		return w.typ(u.Elem())
	case *types.Struct:
		return &graph.Type{Kind: graph.Table, Fields: w.fields(u, map[*types.Struct]bool{})}
	case *types.Slice:
		return &graph.Type{Kind: graph.Array, Elem: w.typ(u.Elem())}
	case *types.Array:
		return &graph.Type{Kind: graph.Array, Elem: w.typ(u.Elem())}
	case *types.Map:
		return &graph.Type{Kind: graph.Map, Elem: w.typ(u.Elem())}
	case *types.Interface:
		if u.NumMethods() == 0 {
			return &graph.Type{Kind: graph.Any}
		}
	}
	return &graph.Type{Kind: graph.Custom} // what the decoder rejects itself, if a key is set
}

// fields lists the keys of a struct as the decoder finds them (the rules
// of encoding/json): exported fields, by toml tag name or field name;
// embedded structs without a tag name are flattened; "-" is skipped. A
// name found again deeper is hidden by the shallower one.
func (w *schemaWalker) fields(st *types.Struct, visited map[*types.Struct]bool) []graph.Field {
	var out []graph.Field
	seen := map[string]bool{}
	level := []*types.Struct{st}
	for len(level) > 0 {
		var next []*types.Struct
		var found []graph.Field
		for _, s := range level {
			if visited[s] {
				continue
			}
			visited[s] = true
			for i := 0; i < s.NumFields(); i++ {
				f := s.Field(i)
				if !f.Exported() && !f.Embedded() {
					continue
				}
				tag, _ := reflect.StructTag(s.Tag(i)).Lookup("toml")
				if tag == "-" {
					continue
				}
				name, _, _ := strings.Cut(tag, ",")
				ft := types.Unalias(f.Type())
				if p, ok := ft.(*types.Pointer); ok { // an unnamed pointer type
					ft = types.Unalias(p.Elem())
				}
				if emb, ok := ft.Underlying().(*types.Struct); ok && f.Embedded() && name == "" {
					next = append(next, emb)
					continue
				}
				if !f.Exported() {
					continue // the decoder cannot set it
				}
				if name == "" {
					name = f.Name()
				}
				found = append(found, graph.Field{Key: name, Type: w.typ(f.Type())})
			}
		}
		for _, f := range found {
			if !seen[f.Key] {
				seen[f.Key] = true
				out = append(out, f)
			}
		}
		level = next
	}
	return out
}

var basicKinds = map[types.BasicKind]graph.Kind{
	types.Bool: graph.Bool, types.String: graph.String,
	types.Int: graph.Int, types.Int8: graph.Int8, types.Int16: graph.Int16, types.Int32: graph.Int32, types.Int64: graph.Int64,
	types.Uint: graph.Uint, types.Uint8: graph.Uint8, types.Uint16: graph.Uint16, types.Uint32: graph.Uint32, types.Uint64: graph.Uint64,
	types.Float32: graph.Float32, types.Float64: graph.Float64,
}
