package generate

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// With a cache, a second run on unchanged sources loads nothing, and any
// change generation reads (a component's method, a stub deleted or
// edited by hand) makes the next run do its whole work again.
func TestCachedRunSkipsUnchangedSources(t *testing.T) {
	dir := writeModule(t, "app", "app")
	cache := t.TempDir()
	run := func(what string) (*Result, bool) {
		t.Helper()
		before := loads.Load()
		res, err := Run(Options{Dir: dir, CacheDir: cache})
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return res, loads.Load() > before
	}
	if res, loaded := run("first run"); !loaded || len(res.Changed) == 0 {
		t.Fatalf("first run: loaded %v, changed %v; want stubs written", loaded, res.Changed)
	}
	if res, loaded := run("unchanged"); loaded || len(res.Changed) > 0 {
		t.Errorf("unchanged sources: loaded %v, changed %v; want neither", loaded, res.Changed)
	}

	stub := filepath.Join(dir, "api", genFileName)
	if err := os.Remove(stub); err != nil {
		t.Fatal(err)
	}
	if res, loaded := run("stub deleted"); !loaded || !slices.Contains(res.Changed, "api/"+genFileName) {
		t.Errorf("stub deleted: loaded %v, changed %v; want api's stub written again", loaded, res.Changed)
	}
	if _, loaded := run("unchanged again"); loaded {
		t.Errorf("unchanged sources after a rewrite: loaded again")
	}

	replaceInFile(t, filepath.Join(dir, "api", "api.go"), "\tPanic(ctx context.Context) error\n", "\tPanic(ctx context.Context) error\n\tNew(ctx context.Context) error\n")
	_, err := Run(Options{Dir: dir, CacheDir: cache})
	if err == nil {
		// The implementations lack New: generation must have looked.
		t.Errorf("a method added to an interface its implementations lack: no error")
	}
	if _, err := Run(Options{Dir: dir, CacheDir: cache}); err == nil {
		t.Errorf("second run after a failed one: no error (a failed run must not be recorded as clean)")
	}
}
