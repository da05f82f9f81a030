package generate

import (
	"fmt"
	"go/types"
)

// serialChecker finds the parts of a type that the generated codec cannot
// serialize. Codec functions are emitted in package codecPkg, so named types
// of other packages must be exported, importable and have exported fields.
type serialChecker struct {
	codecPkg string
	seen     map[string]bool // named types already checked (stops recursion)
	problems []string
}

// shortType prints t with package names (not paths) as qualifiers.
func shortType(t types.Type) string {
	return types.TypeString(t, func(p *types.Package) string { return p.Name() })
}

// relType prints t with package names as qualifiers, omitting package pkgPath.
func relType(t types.Type, pkgPath string) string {
	return types.TypeString(t, func(p *types.Package) string {
		if p.Path() == pkgPath {
			return ""
		}
		return p.Name()
	})
}

// isTime reports whether t is time.Time.
func isTime(t types.Type) bool {
	n, ok := types.Unalias(t).(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == "time" && n.Obj().Name() == "Time"
}

// hasMethod reports whether t's method set has a method name with the given
// numbers of parameters and results.
func hasMethod(t types.Type, name string, params, results int) bool {
	sel := types.NewMethodSet(t).Lookup(nil, name)
	if sel == nil {
		return false
	}
	sig, ok := sel.Obj().Type().(*types.Signature)
	return ok && sig.Params().Len() == params && sig.Results().Len() == results
}

// isProto reports whether *n is a protocol buffer message (has ProtoReflect).
func isProto(n *types.Named) bool {
	_, isPtr := n.Underlying().(*types.Pointer)
	return !isPtr && hasMethod(types.NewPointer(n), "ProtoReflect", 0, 1)
}

// isBinary reports whether *n implements encoding.BinaryMarshaler and
// encoding.BinaryUnmarshaler.
func isBinary(n *types.Named) bool {
	if _, isPtr := n.Underlying().(*types.Pointer); isPtr {
		return false
	}
	p := types.NewPointer(n)
	return hasMethod(p, "MarshalBinary", 0, 2) && hasMethod(p, "UnmarshalBinary", 1, 1)
}

// check records the problems of t, reached through path.
func (s *serialChecker) check(t types.Type, path string) {
	t = types.Unalias(t)
	if isError(t) || isTime(t) {
		return
	}
	if n, ok := t.(*types.Named); ok {
		key := types.TypeString(n, nil)
		if s.seen[key] {
			return
		}
		s.seen[key] = true
		if !s.checkNamed(n, path) {
			return
		}
		if isProto(n) || isBinary(n) {
			return
		}
		s.checkStructure(n.Underlying(), n, path)
		return
	}
	s.checkStructure(t, t, path)
}

// checkNamed reports whether the codec package can name n and see its fields.
func (s *serialChecker) checkNamed(n *types.Named, path string) bool {
	obj := n.Obj()
	if obj.Pkg() == nil || obj.Pkg().Path() == s.codecPkg {
		return true
	}
	pkg := obj.Pkg().Path()
	switch {
	case !obj.Exported():
		s.addf("%s has type %s, which is unexported in package %s: export it", path, relType(n, s.codecPkg), pkg)
		return false
	case obj.Pkg().Name() == "main":
		s.addf("%s has type %s, declared in package main %s, which cannot be imported: move it to another package", path, relType(n, s.codecPkg), pkg)
		return false
	case !canImport(s.codecPkg, pkg):
		s.addf("%s has type %s, declared in internal package %s, which %s cannot import: move the type", path, relType(n, s.codecPkg), pkg, s.codecPkg)
		return false
	}
	if isProto(n) || isBinary(n) {
		return true
	}
	if st, ok := n.Underlying().(*types.Struct); ok {
		for i := 0; i < st.NumFields(); i++ {
			if f := st.Field(i); !f.Exported() && f.Name() != "_" {
				s.addf("%s has type %s, declared in package %s with unexported field %s: export its fields, or give *%s MarshalBinary and UnmarshalBinary methods", path, relType(n, s.codecPkg), pkg, f.Name(), relType(n, s.codecPkg))
				return false
			}
		}
	}
	return true
}

// checkStructure checks the structure of u, the underlying type of t.
func (s *serialChecker) checkStructure(u, t types.Type, path string) {
	switch u := u.(type) {
	case *types.Basic:
		if u.Kind() == types.UnsafePointer || u.Info()&types.IsUntyped != 0 || u.Kind() == types.Invalid {
			s.addf("%s has type %s, which cannot be serialized: use a serializable type", path, relType(t, s.codecPkg))
		}
	case *types.Pointer:
		s.check(u.Elem(), path)
	case *types.Slice:
		if encodesEmpty(u.Elem()) {
			s.addf("%s has type %s, whose elements encode to zero bytes, so its length cannot be checked when decoding: send a count instead", path, relType(t, s.codecPkg))
			return
		}
		s.check(u.Elem(), path+"[]")
	case *types.Array:
		s.check(u.Elem(), path+"[]")
	case *types.Map:
		if encodesEmpty(u.Key()) && encodesEmpty(u.Elem()) {
			s.addf("%s has type %s, whose entries encode to zero bytes, so its length cannot be checked when decoding: use another type", path, relType(t, s.codecPkg))
			return
		}
		s.check(u.Key(), path+"[key]")
		s.check(u.Elem(), path+"[value]")
	case *types.Struct:
		for i := 0; i < u.NumFields(); i++ {
			if f := u.Field(i); f.Name() != "_" {
				s.check(f.Type(), path+"."+f.Name())
			}
		}
	case *types.Interface:
		s.addf("%s has interface type %s, which cannot be serialized (only error can): use a concrete type", path, relType(t, s.codecPkg))
	case *types.Chan, *types.Signature:
		s.addf("%s has type %s, which cannot be serialized: remove it or use data instead", path, relType(t, s.codecPkg))
	default:
		s.addf("%s has type %s, which cannot be serialized: use a concrete, non-generic type", path, relType(t, s.codecPkg))
	}
}

func (s *serialChecker) addf(format string, args ...any) {
	s.problems = append(s.problems, fmt.Sprintf(format, args...))
}

// encodesEmpty reports whether values of t encode to no bytes at all (struct{},
// [0]T, structs of such fields). The decoder bounds a collection's length by
// the bytes left, which needs every element to take at least one byte.
func encodesEmpty(t types.Type) bool {
	if n, ok := types.Unalias(t).(*types.Named); ok && (isTime(n) || isProto(n) || isBinary(n)) {
		return false
	}
	switch u := t.Underlying().(type) {
	case *types.Struct:
		for i := 0; i < u.NumFields(); i++ {
			if f := u.Field(i); f.Name() != "_" && !encodesEmpty(f.Type()) {
				return false
			}
		}
		return true
	case *types.Array:
		return u.Len() == 0 || encodesEmpty(u.Elem())
	}
	return false
}
