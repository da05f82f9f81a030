package generate

import (
	"errors"
	"fmt"
	"go/token"
	"path/filepath"
)

// Generate loads the packages matched by patterns (as in "go build", e.g.
// "./...") from directory dir, finds the pilotage components in them, checks
// them and writes a pilotage_gen.go file in every package declaring a
// component interface or implementation. A stale pilotage_gen.go in a loaded
// package that no longer needs one is removed.
//
// Problems in the application's code are returned together as an ErrorList,
// one "file:line:col: message" per problem, and no file is written.
func Generate(dir string, patterns []string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	ps := &problems{fset: token.NewFileSet(), dir: abs}
	pkgs, err := load(abs, patterns, ps)
	if err != nil {
		return err
	}
	if err := ps.err(); err != nil {
		return err
	}
	a := discover(pkgs, ps)
	a.validate(ps)
	gens := a.plan(ps)
	if err := ps.err(); err != nil {
		return err
	}
	srcs := make([][]byte, len(gens))
	for i, g := range gens {
		if srcs[i], err = g.generate(); err != nil {
			return fmt.Errorf("generate code for %s: %w", g.pkg.PkgPath, err)
		}
	}
	var errs []error
	written := map[string]bool{}
	for i, g := range gens {
		written[g.pkg.PkgPath] = true
		errs = append(errs, writeFile(g.pkg, srcs[i]))
	}
	for _, p := range pkgs {
		if !written[p.PkgPath] {
			errs = append(errs, removeStale(p))
		}
	}
	return errors.Join(errs...)
}
