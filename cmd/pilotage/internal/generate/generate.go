package generate

import (
	"errors"
	"fmt"
	"go/token"
	"path/filepath"
	"sort"
)

// Options configure Run.
type Options struct {
	// Dir is the directory the patterns are resolved in.
	Dir string
	// Patterns name the packages, as for "go build"; default "./...".
	Patterns []string
	// Check makes Run write and remove nothing: Result.Changed lists the
	// files that are not up to date.
	Check bool
	// CacheDir, if set (and not Check), lets Run return at once when
	// nothing it reads changed since its last run that wrote every stub
	// and warned of nothing (fresh.go).
	CacheDir string
}

// A Result says what Run did, or with Options.Check what it would do.
type Result struct {
	// Changed are the generated files written or removed (with Check, those
	// that would be), relative to Options.Dir when inside it, sorted.
	Changed []string
	// Warnings are problems that do not stop generation: code that works
	// in one process and not across processes.
	Warnings ErrorList
}

// Generate runs Run with the given directory and patterns and no Check,
// dropping the warnings.
func Generate(dir string, patterns []string) error {
	_, err := Run(Options{Dir: dir, Patterns: patterns})
	return err
}

// Run loads the packages matched by the patterns, finds the pilotage
// components in them, checks them and writes a pilotage_gen.go file in every
// package declaring a component interface or implementation. A stale
// pilotage_gen.go in a loaded package that no longer needs one is removed.
//
// Problems in the application's code are returned together as an ErrorList,
// one "file:line:col: message" per problem, and no file is written.
func Run(opts Options) (*Result, error) {
	abs, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	patterns := opts.Patterns
	if len(patterns) == 0 {
		patterns = []string{"./..."}
	}
	cached := opts.CacheDir != "" && !opts.Check
	var key string // of the sources as Run found them, if cached
	if cached {
		var fresh bool
		if key, fresh = isFresh(opts.CacheDir, abs, patterns); fresh {
			return &Result{}, nil
		}
	}
	ps := &problems{fset: token.NewFileSet(), dir: abs}
	warn := &problems{fset: ps.fset, dir: abs}
	ld := loader{dir: abs, fset: ps.fset}
	pkgs, err := ld.load(patterns, ps)
	if err != nil {
		return nil, err
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	a := discover(ld, pkgs, ps)
	a.validate(ps)
	gens := a.plan(ps)
	if err := ps.err(); err != nil {
		return nil, err
	}
	if err := a.planErrors(gens, warn); err != nil {
		return nil, err
	}
	if err := a.checkTestComparisons(warn); err != nil {
		return nil, err
	}
	srcs := make([][]byte, len(gens))
	for i, g := range gens {
		if err := g.setFingerprint(); err != nil {
			return nil, err
		}
		if srcs[i], err = g.generate(); err != nil {
			return nil, fmt.Errorf("generate code for %s: %w", g.pkg.PkgPath, err)
		}
	}
	res := &Result{}
	if list, ok := warn.err().(ErrorList); ok {
		res.Warnings = list
	}
	var errs []error
	written := map[string]bool{}
	for i, g := range gens {
		written[g.pkg.PkgPath] = true
		path, changed, err := writeFile(g.pkg, srcs[i], opts.Check)
		if changed {
			res.Changed = append(res.Changed, ps.relPath(path))
		}
		errs = append(errs, err)
	}
	for _, p := range pkgs {
		if !written[p.PkgPath] {
			path, err := removeStale(p, opts.Check)
			if path != "" {
				res.Changed = append(res.Changed, ps.relPath(path))
			}
			errs = append(errs, err)
		}
	}
	sort.Strings(res.Changed)
	if err := errors.Join(errs...); err != nil {
		return res, err
	}
	if cached && len(res.Warnings) == 0 {
		if len(res.Changed) > 0 { // the stubs written are sources too
			key, err = sourceKey(abs, patterns)
			if err != nil {
				key = ""
			}
		}
		recordFresh(opts.CacheDir, abs, patterns, key)
	}
	return res, nil
}
