package generate

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/tools/go/packages"
)

// genFileName is the name of the file written in each package.
const genFileName = "pilotage_gen.go"

// pkgDir returns the directory of p's source files.
func pkgDir(p *packages.Package) string {
	for _, files := range [][]string{p.GoFiles, p.CompiledGoFiles, p.IgnoredFiles, p.OtherFiles} {
		if len(files) > 0 {
			return filepath.Dir(files[0])
		}
	}
	return ""
}

// writeFile writes src as p's generated file, leaving an identical file
// alone, and reports the file's path and whether it changed. With dryRun it
// only reports.
func writeFile(p *packages.Package, src []byte, dryRun bool) (path string, changed bool, err error) {
	dir := pkgDir(p)
	if dir == "" {
		return "", false, fmt.Errorf("package %s has no source directory", p.PkgPath)
	}
	path = filepath.Join(dir, genFileName)
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, src) {
		return path, false, nil
	}
	if dryRun {
		return path, true, nil
	}
	if err := os.WriteFile(path, src, 0o644); err != nil {
		return path, true, fmt.Errorf("writing generated code for %s: %w", p.PkgPath, err)
	}
	return path, true, nil
}

// removeStale deletes p's generated file, if it has one, since p no longer
// needs generated code, and returns its path ("" if there was none). A file
// of that name not written by the generator is left alone. With dryRun it
// only reports.
func removeStale(p *packages.Package, dryRun bool) (string, error) {
	dir := pkgDir(p)
	if dir == "" {
		return "", nil
	}
	path := filepath.Join(dir, genFileName)
	old, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	if !bytes.HasPrefix(old, []byte(header[:bytes.IndexByte([]byte(header), '\n')])) {
		return "", nil
	}
	if dryRun {
		return path, nil
	}
	if err := os.Remove(path); err != nil {
		return path, fmt.Errorf("removing stale %s: %w", path, err)
	}
	return path, nil
}
