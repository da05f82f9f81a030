// Package fingerprint summarizes, from source text alone, the declarations
// "pilotage generate" reads that the compiler cannot check against a
// generated file: which structs embed pilotage.Implements and their Ref and
// Listener fields, the pilotage.Idempotent marks, the variables (whose
// errors the file registers: all of the package's own, the exported ones of
// the others) and the imports, of a package and of the packages of its
// module that it reaches through imports.
//
// The generator writes the fingerprint into each generated file, and
// pilotagetest recomputes it from the sources when a test starts, so a file
// that still compiles but no longer matches the code (a second
// implementation, a new error variable, a new Idempotent mark) fails the
// test with "run pilotage generate" instead of running the old code.
//
// It uses go/parser only (no type checking, no go command), so it is cheap,
// and it reads every .go file of a directory but tests and generated files,
// whatever their build constraints: both sides compute the same function of
// the same files, so regenerating always makes them agree.
package fingerprint

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Marker starts the line of a generated file that holds its fingerprint.
const Marker = "// pilotage:fingerprint "

// Read returns the fingerprint recorded in a generated file's source, or ""
// if it has none.
func Read(src []byte) string {
	for line := range strings.Lines(string(src)) {
		if fp, ok := strings.CutPrefix(strings.TrimSpace(line), strings.TrimSpace(Marker)+" "); ok {
			return strings.TrimSpace(fp)
		}
	}
	return ""
}

// GeneratedFile is the name of the file "pilotage generate" writes; it is
// not part of the fingerprint.
const GeneratedFile = "pilotage_gen.go"

// framework are the framework's packages, at which the walk through imports
// stops: they are not the application's code.
var framework = map[string]bool{
	"github.com/pilotage/pilotage":                    true,
	"github.com/pilotage/pilotage/codegen":            true,
	"github.com/pilotage/pilotage/codegen/protocodec": true,
	"github.com/pilotage/pilotage/pilotagetest":       true,
}

// A Module locates the packages of one Go module on disk.
type Module struct {
	Root string // the directory holding go.mod
	Path string // the module path
}

// Dir returns the directory of package pkgPath, and false if the package is
// not in the module.
func (m Module) Dir(pkgPath string) (string, bool) {
	if pkgPath == m.Path {
		return m.Root, true
	}
	rel, ok := strings.CutPrefix(pkgPath, m.Path+"/")
	if !ok {
		return "", false
	}
	return filepath.Join(m.Root, filepath.FromSlash(rel)), true
}

// Of returns the fingerprint of package pkgPath of module m.
func (m Module) Of(pkgPath string) (string, error) {
	summaries := map[string][]string{}
	queue := []string{pkgPath}
	for len(queue) > 0 {
		path := queue[0]
		queue = queue[1:]
		dir, _ := m.Dir(path)
		s, err := summarize(dir, path == pkgPath)
		if err != nil {
			return "", err
		}
		summaries[path] = s.lines
		for _, imp := range s.imports {
			if _, ok := summaries[imp]; ok || framework[imp] || contains(queue, imp) {
				continue
			}
			if d, ok := m.Dir(imp); ok && isPackageDir(d) {
				queue = append(queue, imp)
			}
		}
	}
	paths := make([]string, 0, len(summaries))
	for p := range summaries {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	h := sha256.New()
	for _, p := range paths {
		fmt.Fprintf(h, "package %s\n", p)
		for _, line := range summaries[p] {
			fmt.Fprintf(h, "%s\n", line)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:12]), nil
}

// HasComponents reports whether the package in dir declares a struct that
// embeds pilotage.Implements.
func HasComponents(dir string) (bool, error) {
	s, err := summarize(dir, false)
	if err != nil {
		return false, err
	}
	for _, line := range s.lines {
		if strings.HasPrefix(line, "impl ") {
			return true, nil
		}
	}
	return false, nil
}

// FindModule returns the module whose go.mod is in dir or above it.
func FindModule(dir string) (Module, error) {
	for d := dir; ; {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil {
			path := modulePath(b)
			if path == "" {
				return Module{}, fmt.Errorf("%s: no module directive", filepath.Join(d, "go.mod"))
			}
			return Module{Root: d, Path: path}, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return Module{}, fmt.Errorf("no go.mod in %s or above", dir)
		}
		d = parent
	}
}

// modulePath returns the path of go.mod's module directive.
func modulePath(gomod []byte) string {
	for line := range strings.Lines(string(gomod)) {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module")
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '\t') {
			continue
		}
		rest = strings.TrimSpace(rest)
		if i := strings.Index(rest, "//"); i >= 0 {
			rest = strings.TrimSpace(rest[:i])
		}
		if p, err := strconv.Unquote(rest); err == nil {
			return p
		}
		return rest
	}
	return ""
}

// A summary is what the fingerprint keeps of one package.
type summary struct {
	lines   []string // sorted
	imports []string // sorted
}

// isPackageDir reports whether dir exists and has no go.mod of its own (a
// nested module is not part of this one).
func isPackageDir(dir string) bool {
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return false
	}
	_, err := os.Stat(filepath.Join(dir, "go.mod"))
	return os.IsNotExist(err)
}

// summarize reads the package in dir, with the names of its unexported
// variables too if all (the generated file registers the unexported errors
// of its own package). Files that do not parse are left out: the compiler
// reports them.
func summarize(dir string, all bool) (summary, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return summary{}, fmt.Errorf("fingerprint: %w", err)
	}
	var s summary
	imports := map[string]bool{}
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") ||
			name == GeneratedFile || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			continue
		}
		for _, imp := range f.Imports {
			if p, err := strconv.Unquote(imp.Path.Value); err == nil {
				imports[p] = true
			}
		}
		for _, d := range f.Decls {
			if gd, ok := d.(*ast.GenDecl); ok {
				s.lines = append(s.lines, declLines(gd, all)...)
			}
		}
	}
	for p := range imports {
		s.imports = append(s.imports, p)
		s.lines = append(s.lines, "import "+p)
	}
	sort.Strings(s.imports)
	sort.Strings(s.lines)
	return s, nil
}

// declLines summarizes one declaration; all as for summarize.
func declLines(gd *ast.GenDecl, all bool) []string {
	var out []string
	for _, spec := range gd.Specs {
		switch spec := spec.(type) {
		case *ast.ValueSpec:
			if gd.Tok != token.VAR {
				continue
			}
			for _, n := range spec.Names {
				if n.IsExported() || all && n.Name != "_" {
					out = append(out, "var "+n.Name)
				}
			}
			if isSelector(spec.Type, "Idempotent") {
				for _, v := range spec.Values {
					out = append(out, "idempotent "+types.ExprString(v))
				}
			}
		case *ast.TypeSpec:
			if st, ok := spec.Type.(*ast.StructType); ok {
				out = append(out, structLines(spec.Name.Name, st)...)
			}
		}
	}
	return out
}

// structLines summarizes a struct that embeds pilotage.Implements.
func structLines(name string, st *ast.StructType) []string {
	var out []string
	impl := false
	for _, f := range st.Fields.List {
		t := types.ExprString(f.Type)
		tag := ""
		if f.Tag != nil {
			if v, err := strconv.Unquote(f.Tag.Value); err == nil {
				tag = reflect.StructTag(v).Get("pilotage")
			}
		}
		switch {
		case len(f.Names) == 0 && isGeneric(f.Type, "Implements"):
			impl = true
			out = append(out, "impl "+name+" "+t)
		case isGeneric(f.Type, "Ref"), isSelector(f.Type, "Listener"):
			for _, n := range f.Names {
				out = append(out, fmt.Sprintf("field %s.%s %s %q", name, n.Name, t, tag))
			}
		}
	}
	if !impl {
		return nil
	}
	return out
}

// isSelector reports whether e is pkg.name.
func isSelector(e ast.Expr, name string) bool {
	sel, ok := e.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == name
}

// isGeneric reports whether e is pkg.name[T].
func isGeneric(e ast.Expr, name string) bool {
	ix, ok := e.(*ast.IndexExpr)
	return ok && isSelector(ix.X, name)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
