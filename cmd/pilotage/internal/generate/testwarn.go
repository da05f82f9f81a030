package generate

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/tools/go/packages"
)

// pilotagetestPath is the import path of the testing package.
const pilotagetestPath = pilotagePath + "/pilotagetest"

// A comparison is an error variable of another package compared with
// errors.Is, == or != in a test file.
type comparison struct {
	path, name string
	pos        token.Pos
}

// checkTestComparisons warns about the one way left for Local and RPC mode
// to disagree on errors.Is: a test that runs components with pilotagetest
// and compares with an error variable that no generated file registers,
// because only test files import its package (or only a dependency of a
// dependency returns it). In Local mode the comparison holds; across
// processes the error arrives without that identity.
func (a *app) checkTestComparisons(warn *problems) error {
	var found []comparison
	dirs := map[string]bool{}
	for _, p := range a.pkgs {
		dir := pkgDir(p)
		if dir == "" || dirs[dir] {
			continue
		}
		dirs[dir] = true
		cs, err := testComparisons(warn.fset, dir)
		if err != nil {
			return err
		}
		found = append(found, cs...)
	}
	if len(found) == 0 {
		return nil
	}
	typesOf, err := a.typesOf(found)
	if err != nil {
		return err
	}
	for _, c := range found {
		key := c.path + "." + c.name
		if isFramework(c.path) || a.registered[key] {
			continue
		}
		pkg := typesOf[c.path]
		if pkg == nil {
			continue
		}
		v, ok := pkg.Scope().Lookup(c.name).(*types.Var)
		if !ok || !v.Exported() || !types.Implements(v.Type(), errorIface) {
			continue
		}
		warn.addf(c.pos, "%s.%s is compared in a test that runs components, but no generated file registers it (no application package imports %s), so the comparison holds in Local mode and not across processes (RPC mode, pilotage run): import %q from the package that returns the error (import _ %q will do) and run pilotage generate",
			pkg.Name(), c.name, c.path, c.path, c.path)
	}
	return nil
}

// typesOf returns the types of the packages the comparisons name, from the
// loaded packages and their imports, loading the others from export data.
func (a *app) typesOf(cs []comparison) (map[string]*types.Package, error) {
	known := map[string]*types.Package{}
	add := func(p *packages.Package) {
		if p.Types != nil {
			known[p.PkgPath] = p.Types
		}
		for _, imp := range p.Imports {
			if imp.Types != nil {
				known[imp.PkgPath] = imp.Types
			}
		}
	}
	for _, p := range a.pkgs {
		add(p)
	}
	for _, p := range a.extra {
		add(p)
	}
	var missing []string
	for _, c := range cs {
		if known[c.path] == nil && !isFramework(c.path) && !a.registered[c.path+"."+c.name] && !contains(missing, c.path) {
			missing = append(missing, c.path)
		}
	}
	if len(missing) == 0 {
		return known, nil
	}
	sort.Strings(missing)
	pkgs, err := packages.Load(a.ld.config(packages.NeedName|packages.NeedTypes), missing...)
	if err != nil {
		return nil, fmt.Errorf("loading the packages tests compare errors of: %w", err)
	}
	for _, p := range pkgs {
		if p.Types != nil && len(p.Errors) == 0 {
			known[p.PkgPath] = p.Types
		}
	}
	return known, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// testComparisons returns the comparisons with package-qualified names in
// the test files of dir, if one of them imports pilotagetest.
func testComparisons(fset *token.FileSet, dir string) ([]comparison, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	var files []*ast.File
	usesPilotagetest := false
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, "_test.go") || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			continue // the go command reports broken test files when they are built
		}
		files = append(files, f)
		for _, imp := range f.Imports {
			usesPilotagetest = usesPilotagetest || importPath(imp) == pilotagetestPath
		}
	}
	if !usesPilotagetest {
		return nil, nil
	}
	var out []comparison
	for _, f := range files {
		out = append(out, fileComparisons(f)...)
	}
	return out, nil
}

// importPath returns the path of an import spec.
func importPath(spec *ast.ImportSpec) string {
	p, _ := strconv.Unquote(spec.Path.Value)
	return p
}

// fileComparisons returns the errors.Is, == and != comparisons of f whose
// operand is a name qualified by an imported package.
func fileComparisons(f *ast.File) []comparison {
	// Package names are guessed from paths (the last element, less a
	// version suffix) unless the import names them; a wrong guess only
	// misses a warning.
	imports := map[string]string{}
	for _, imp := range f.Imports {
		path := importPath(imp)
		name := guessName(path)
		if imp.Name != nil {
			name = imp.Name.Name
		}
		if name != "_" && name != "." {
			imports[name] = path
		}
	}
	var out []comparison
	qualified := func(e ast.Expr) {
		sel, ok := ast.Unparen(e).(*ast.SelectorExpr)
		if !ok {
			return
		}
		if id, ok := sel.X.(*ast.Ident); ok && imports[id.Name] != "" {
			out = append(out, comparison{path: imports[id.Name], name: sel.Sel.Name, pos: sel.Pos()})
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Is" && len(n.Args) == 2 {
				if id, ok := sel.X.(*ast.Ident); ok && imports[id.Name] == "errors" {
					qualified(n.Args[1])
				}
			}
		case *ast.BinaryExpr:
			if n.Op == token.EQL || n.Op == token.NEQ {
				qualified(n.X)
				qualified(n.Y)
			}
		}
		return true
	})
	return out
}

// guessName returns the usual package name for an import path.
func guessName(path string) string {
	name := path[strings.LastIndex(path, "/")+1:]
	if len(name) > 1 && name[0] == 'v' && strings.Trim(name[1:], "0123456789") == "" {
		if i := strings.LastIndex(path[:len(path)-len(name)-1], "/"); i >= 0 {
			name = path[i+1 : len(path)-len(name)-1]
		}
	}
	name = strings.TrimPrefix(name, "go-")
	if i := strings.IndexAny(name, ".-"); i >= 0 {
		name = name[:i]
	}
	return name
}
