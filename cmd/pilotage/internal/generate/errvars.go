package generate

import (
	"fmt"
	"go/types"
	"sort"
	"strings"

	"golang.org/x/tools/go/packages"
)

// Errors keep their identity across process boundaries only if they are
// registered (codegen.RegisterError). The generator registers every exported
// package-level variable of an error type that code behind a component
// boundary can return and that a caller can compare with errors.Is:
//
//   - the variables of every application package (the main module's, less
//     the framework's) that a package with generated code reaches through
//     imports, and
//   - those of every package such an application package imports directly
//     (standard library and third-party packages too: io.EOF,
//     sql.ErrNoRows), since a caller comparing with errors.Is imports the
//     variable's package itself.
//
// A variable is registered in the generated file of each package that
// reaches it, so the registration is linked whenever the error can arise,
// unless a package with generated code that it imports (and so links and
// initializes first) registers it already. Names are not filtered: io.EOF
// and fs.SkipDir count as much as ErrNotFound. A package with generated code
// also registers its unexported error variables, which its own code and
// tests may compare with after a call to a component of the package.

// frameworkPaths are the framework's public packages. The runtime registers
// their errors itself, and the walk through imports stops at them.
var frameworkPaths = map[string]bool{
	pilotagePath:                   true,
	codegenPath:                    true,
	protocodecPath:                 true,
	pilotagePath + "/pilotagetest": true,
	"context":                      true, // codegen registers Canceled and DeadlineExceeded
}

// coordPath is the coordination module, a framework package too: it
// registers its own errors, and what it imports (etcd's client) is no
// concern of the app's. In a workspace it is a main module, so it must be
// named to be told from the app.
const coordPath = pilotagePath + "/coord"

// isFramework reports whether the package of path is the framework's.
func isFramework(path string) bool {
	return frameworkPaths[path] || path == coordPath || strings.HasPrefix(path, coordPath+"/")
}

// An errorVar is an exported package-level variable whose type implements error.
type errorVar struct {
	pkg *types.Package
	obj *types.Var
}

// key is the name the variable is registered under.
func (v errorVar) key() string { return v.pkg.Path() + "." + v.obj.Name() }

// errorIface is the error interface, for types.Implements.
var errorIface = errorType.Underlying().(*types.Interface)

// errorVarsOf returns the error variables of pkg, sorted by name: the
// exported ones, and with unexported the others too (but "_").
func errorVarsOf(pkg *types.Package, unexported bool) []errorVar {
	if pkg == nil || isFramework(pkg.Path()) {
		return nil
	}
	var out []errorVar
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		v, ok := scope.Lookup(name).(*types.Var)
		if ok && name != "_" && (v.Exported() || unexported) && types.Implements(v.Type(), errorIface) {
			out = append(out, errorVar{pkg: pkg, obj: v})
		}
	}
	return out
}

// isAppPackage reports whether p is part of the application: in the main
// module (or, without module information, among the loaded packages) and
// not one of the framework's packages.
func (a *app) isAppPackage(p *packages.Package) bool {
	if isFramework(p.PkgPath) {
		return false
	}
	if p.Module == nil {
		return a.byPath[p.PkgPath] != nil
	}
	return p.Module.Main
}

// reach returns the application packages reachable from p through imports,
// p included, sorted by path.
func (a *app) reach(p *packages.Package) []*packages.Package {
	seen := map[string]bool{p.PkgPath: true}
	out := []*packages.Package{p}
	for i := 0; i < len(out); i++ {
		for _, imp := range out[i].Imports {
			if !seen[imp.PkgPath] && a.isAppPackage(imp) {
				seen[imp.PkgPath] = true
				out = append(out, imp)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PkgPath < out[j].PkgPath })
	return out
}

// planErrors decides the error registrations of every generated file. It
// loads the application packages the patterns left out but generated code
// reaches, and warns about variables no generated file can register.
func (a *app) planErrors(gens []*pkgGen, warn *problems) error {
	reaches := map[string][]*packages.Package{}
	var missing []string
	seenMissing := map[string]bool{}
	for _, g := range gens {
		reaches[g.pkg.PkgPath] = a.reach(g.pkg)
		for _, p := range reaches[g.pkg.PkgPath] {
			if a.typed(p.PkgPath) == nil && !seenMissing[p.PkgPath] {
				seenMissing[p.PkgPath] = true
				missing = append(missing, p.PkgPath)
			}
		}
	}
	if err := a.loadMore(missing); err != nil {
		return err
	}

	// candidates are the variables each generated package reaches.
	candidates := map[string]map[string]errorVar{}
	for _, g := range gens {
		c := map[string]errorVar{}
		for _, p := range reaches[g.pkg.PkgPath] {
			tp := a.typed(p.PkgPath)
			if tp == nil || tp.Types == nil {
				continue
			}
			for _, v := range errorVarsOf(tp.Types, p.PkgPath == g.pkg.PkgPath) {
				c[v.key()] = v
			}
			for _, imp := range tp.Imports {
				if !a.isAppPackage(imp) {
					for _, v := range errorVarsOf(imp.Types, false) {
						c[v.key()] = v
					}
				}
			}
		}
		candidates[g.pkg.PkgPath] = c
	}
	registrable := func(g string, v errorVar) bool {
		return v.pkg.Path() == g || v.pkg.Name() != "main" && canImport(g, v.pkg.Path())
	}
	genByPath := map[string]bool{}
	for _, g := range gens {
		genByPath[g.pkg.PkgPath] = true
	}
	registered := map[string]bool{}
	for _, g := range gens {
		path := g.pkg.PkgPath
		var keys []string
		for k, v := range candidates[path] {
			if !registrable(path, v) || a.registeredBelow(path, v, reaches[path], genByPath, candidates, registrable) {
				continue
			}
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			g.errs = append(g.errs, candidates[path][k])
			registered[k] = true
		}
	}
	a.registered = registered
	var unregistrable []errorVar
	seen := map[string]bool{}
	for _, g := range gens {
		for k, v := range candidates[g.pkg.PkgPath] {
			if !registered[k] && !seen[k] {
				seen[k] = true
				unregistrable = append(unregistrable, v)
			}
		}
	}
	sort.Slice(unregistrable, func(i, j int) bool { return unregistrable[i].key() < unregistrable[j].key() })
	for _, v := range unregistrable {
		warn.addf(v.obj.Pos(), "%s.%s can reach a component boundary, but no package with generated code may import %s, so errors.Is cannot match it across processes: register it there with func init() { codegen.RegisterError(%q, %s) }",
			v.pkg.Name(), v.obj.Name(), v.pkg.Path(), v.key(), v.obj.Name())
	}
	return nil
}

// registeredBelow reports whether a generated package that path imports
// (directly or not) registers v, so path's own file need not.
func (a *app) registeredBelow(path string, v errorVar, reach []*packages.Package, gen map[string]bool, candidates map[string]map[string]errorVar, registrable func(string, errorVar) bool) bool {
	for _, p := range reach {
		if p.PkgPath == path || !gen[p.PkgPath] {
			continue
		}
		if _, ok := candidates[p.PkgPath][v.key()]; ok && registrable(p.PkgPath, v) {
			return true
		}
	}
	return false
}

// typed returns the package of path loaded from source, whose imports have
// types, or nil.
func (a *app) typed(path string) *packages.Package {
	if p := a.byPath[path]; p != nil {
		return p
	}
	return a.extra[path]
}

// loadMore loads the packages of paths from source, for their error
// variables and those of their imports. Their own problems are reported
// when the patterns include them; here only a failed load stops generation.
func (a *app) loadMore(paths []string) error {
	if len(paths) == 0 {
		return nil
	}
	pkgs, err := packages.Load(a.ld.config(loadMode), paths...)
	if err != nil {
		return fmt.Errorf("loading packages for their errors: %w", err)
	}
	if a.extra == nil {
		a.extra = map[string]*packages.Package{}
	}
	for _, p := range pkgs {
		a.extra[p.PkgPath] = p
	}
	return nil
}
