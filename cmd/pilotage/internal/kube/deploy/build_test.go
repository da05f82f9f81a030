package deploy

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/pilotage/pilotage/internal/graph"
)

// The build runs beside the generation of stubs: an app whose stubs are
// missing is built again once they are written, and an app edited since
// its last build gets a binary of the edit.
func TestBuildAppWithStaleStubs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	t.Setenv("GOWORK", "off")
	dir := filepath.Join(t.TempDir(), "shop")
	if err := os.CopyFS(dir, os.DirFS("../../../../../examples/shop")); err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs("../../../../..")
	if err != nil {
		t.Fatal(err)
	}
	mod := filepath.Join(dir, "go.mod")
	data, err := os.ReadFile(mod)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mod, bytes.Replace(data, []byte("=> ../.."), []byte("=> "+root), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	stubs := filepath.Join(dir, "cart", "pilotage_gen.go")
	if err := os.Remove(stubs); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()

	bin, err := buildApp(context.Background(), dir, cache, t.TempDir())
	if err != nil {
		t.Fatalf("build with a package's stubs missing: %v", err)
	}
	if _, err := os.Stat(stubs); err != nil {
		t.Errorf("stubs not written: %v", err)
	}
	if _, err := graph.Read(bin); err != nil {
		t.Fatal(err)
	}

	before, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	edit := "package main\n\nvar edited = \"yes\"\n\nfunc init() { _ = edited }\n"
	if err := os.WriteFile(filepath.Join(dir, "edit.go"), []byte(edit), 0o644); err != nil {
		t.Fatal(err)
	}
	if bin, err = buildApp(context.Background(), dir, cache, t.TempDir()); err != nil {
		t.Fatalf("build after an edit: %v", err)
	}
	after, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(before, after) {
		t.Error("the binary after an edit is the one before it")
	}
}
