package generate

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Loading and type-checking an app's packages is most of what Run costs
// (over a second for the example shop), and most runs find nothing to
// change. With Options.CacheDir, Run records a hash of what generation
// reads after each run that wrote every file and warned of nothing, and
// the next run with the same hash returns at once. The hash covers every
// Go file of the module (generated ones included, so a stub edited or
// deleted by hand is written again), its go.mod and go.sum, the go.work
// above it, the build environment, the patterns, and the pilotage binary
// itself. Not covered: a change in another module's source tree that a
// replace directive or a workspace points at, when the pilotage binary
// is not rebuilt with it; "pilotage generate" (which takes no cache)
// then writes the stubs.

// sourceKey returns the hash of what generating patterns in dir reads.
func sourceKey(dir string, patterns []string) (string, error) {
	root, err := moduleRoot(dir)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	st, err := os.Stat(exe)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(h, "tool %s %d %d\n", exe, st.Size(), st.ModTime().UnixNano())
	for _, v := range []string{"GOFLAGS", "GOOS", "GOARCH", "CGO_ENABLED", "GOWORK"} {
		fmt.Fprintf(h, "env %s=%s\n", v, os.Getenv(v))
	}
	fmt.Fprintf(h, "dir %s\npatterns %q\n", dir, patterns)
	addFile := func(path string) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "file %s %d\n", path, len(b))
		h.Write(b)
		return nil
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		if err := addFile(filepath.Join(root, f)); err != nil && !os.IsNotExist(err) {
			return "", err
		}
	}
	if work := findUp(root, "go.work"); work != "" {
		for _, f := range []string{work, work + ".sum"} {
			if err := addFile(f); err != nil && !os.IsNotExist(err) {
				return "", err
			}
		}
	}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path == root {
				return nil
			}
			// What the go command ignores, and nested modules.
			if name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(name, ".go") && d.Type().IsRegular() {
			return addFile(path)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// moduleRoot returns the directory of the go.mod that dir belongs to.
func moduleRoot(dir string) (string, error) {
	if gomod := findUp(dir, "go.mod"); gomod != "" {
		return filepath.Dir(gomod), nil
	}
	return "", fmt.Errorf("%s is not in a Go module (no go.mod in it or above it)", dir)
}

// findUp returns the path of the first file name in dir or above it, ""
// if there is none.
func findUp(dir, name string) string {
	for {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// freshRecord is the file that holds the key of the last clean run of
// patterns in dir.
func freshRecord(cacheDir, dir string, patterns []string) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\n%q", dir, patterns))
	return filepath.Join(cacheDir, "generate", hex.EncodeToString(sum[:12]))
}

// isFresh reports whether the sources are those of the last clean run,
// and returns their key ("" if it could not be computed). Any failure to
// tell means no: Run then does its whole work.
func isFresh(cacheDir, dir string, patterns []string) (key string, fresh bool) {
	key, err := sourceKey(dir, patterns)
	if err != nil {
		return "", false
	}
	b, err := os.ReadFile(freshRecord(cacheDir, dir, patterns))
	return key, err == nil && string(b) == key
}

// recordFresh records key, the sources' after a clean run. The record is
// only a shortcut: failing to write it costs the next run its full work,
// so the error is not Run's.
func recordFresh(cacheDir, dir string, patterns []string, key string) {
	if key == "" {
		return
	}
	path := freshRecord(cacheDir, dir, patterns)
	if os.MkdirAll(filepath.Dir(path), 0o755) != nil {
		return
	}
	tmp := path + ".tmp"
	if os.WriteFile(tmp, []byte(key), 0o644) == nil {
		os.Rename(tmp, path)
	}
}
