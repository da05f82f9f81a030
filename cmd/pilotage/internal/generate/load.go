package generate

import (
	"fmt"
	"go/token"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/tools/go/packages"
)

// buildTag is set while loading, so that generated files (which carry
// "//go:build !pilotagegen") are left out and stale ones cannot break loading.
const buildTag = "pilotagegen"

// loadMode is what generation needs from go/packages: syntax and types of the
// packages matched by the patterns, the import graph and the modules of all
// packages; dependencies' types come from export data.
const loadMode = packages.NeedName | packages.NeedFiles | packages.NeedImports |
	packages.NeedTypes | packages.NeedSyntax | packages.NeedTypesInfo | packages.NeedModule

// A loader loads packages from one directory, with generated files left out.
type loader struct {
	dir  string
	fset *token.FileSet
}

// config returns the go/packages configuration for mode.
func (l loader) config(mode packages.LoadMode) *packages.Config {
	return &packages.Config{Mode: mode, Dir: l.dir, Fset: l.fset, BuildFlags: []string{"-tags=" + buildTag}}
}

// loads counts the loads of packages, for the tests of fresh.go.
var loads atomic.Int64

// load type-checks the packages matched by patterns in dir. Problems found by
// the go command or the type checker are added to ps. The generated main
// marker method is missing while loading (generated files are excluded), so
// type errors about it are ignored.
func (l loader) load(patterns []string, ps *problems) ([]*packages.Package, error) {
	loads.Add(1)
	dir := l.dir
	pkgs, err := packages.Load(l.config(loadMode), patterns...)
	if err != nil {
		return nil, fmt.Errorf("loading packages %s: %w", strings.Join(patterns, " "), err)
	}
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("no packages match %s in %s; check that \"go list %s\" works there (go.mod up to date?)", strings.Join(patterns, " "), dir, strings.Join(patterns, " "))
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].PkgPath < pkgs[j].PkgPath })
	for _, p := range pkgs {
		typeErrs := false
		for _, e := range p.Errors {
			typeErrs = typeErrs || e.Kind == packages.TypeError
		}
		for _, e := range p.Errors {
			if e.Kind == packages.TypeError && strings.Contains(e.Msg, "RunPilotageGenerate") {
				continue
			}
			if typeErrs && e.Kind != packages.TypeError && strings.HasPrefix(e.Msg, "# ") {
				continue // the compiler's report of the type errors listed separately
			}
			ps.addPosition(parsePos(e.Pos), e.Msg)
		}
	}
	return pkgs, nil
}

// parsePos parses "file:line:col" (or "file:line", or "") as printed by
// go/packages.
func parsePos(s string) token.Position {
	var p token.Position
	parts := strings.Split(s, ":")
	nums := 0
	for i := len(parts) - 1; i > 0 && nums < 2; i-- {
		if _, err := strconv.Atoi(parts[i]); err != nil {
			break
		}
		nums++
	}
	p.Filename = strings.Join(parts[:len(parts)-nums], ":")
	if nums >= 1 {
		p.Line, _ = strconv.Atoi(parts[len(parts)-nums])
	}
	if nums == 2 {
		p.Column, _ = strconv.Atoi(parts[len(parts)-1])
	}
	return p
}
