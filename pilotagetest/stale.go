package pilotagetest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/pilotage/pilotage/codegen"
	"github.com/pilotage/pilotage/internal/fingerprint"
)

// checkGenerated reports, once per test binary, generated files of the
// module under test that compile but no longer match the sources: their
// recorded fingerprint differs from the one computed now, or the package
// under test declares components and has no generated file. Tests would
// otherwise run the code as it was at the last generation.
var checkGenerated = sync.OnceValue(func() error {
	wd, err := os.Getwd()
	if err != nil {
		return nil // nothing to compare with
	}
	m, err := fingerprint.FindModule(wd)
	if err != nil {
		return nil // a test binary run outside its module
	}
	return staleGenerated(m, wd)
})

// staleGenerated checks the generated files of the registered components'
// packages in module m, and the package in dir.
func staleGenerated(m fingerprint.Module, dir string) error {
	comps, err := codegen.Components()
	if err != nil {
		return nil // starting the components reports it
	}
	paths := map[string]bool{}
	for _, c := range comps {
		paths[c.Type.PkgPath()] = true
		paths[c.Impl.Type.PkgPath()] = true
	}
	var stale []string
	if rel, err := filepath.Rel(m.Root, dir); err == nil && !strings.HasPrefix(rel, "..") {
		if _, err := os.Stat(filepath.Join(dir, fingerprint.GeneratedFile)); errors.Is(err, fs.ErrNotExist) {
			if has, _ := fingerprint.HasComponents(dir); has {
				stale = append(stale, filepath.Join(dir, fingerprint.GeneratedFile)+" is missing")
			}
		}
	}
	for path := range paths {
		pkgDir, ok := m.Dir(path)
		if !ok {
			continue
		}
		file := filepath.Join(pkgDir, fingerprint.GeneratedFile)
		src, err := os.ReadFile(file)
		if err != nil {
			continue // not built from this module's sources
		}
		want, err := m.Of(path)
		if err != nil {
			continue
		}
		if got := fingerprint.Read(src); got != want {
			stale = append(stale, file+" is out of date")
		}
	}
	if len(stale) == 0 {
		return nil
	}
	sort.Strings(stale)
	return fmt.Errorf("pilotagetest: generated code does not match the sources (%s): run \"pilotage generate ./...\" in %s", strings.Join(stale, ", "), m.Root)
}
