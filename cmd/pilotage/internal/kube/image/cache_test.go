package image

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// A cached layer has the digest of the layer it stands for, is compressed
// once per content, and the cache keeps at most keepLayers layers.
func TestCachedFileLayer(t *testing.T) {
	// A static executable to put in the layers.
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte("package main\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module tiny\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	self := filepath.Join(src, "tiny")
	cmd := exec.Command("go", "build", "-o", self, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOWORK=off", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build a static executable: %v\n%s", err, out)
	}
	dir := t.TempDir()
	pruneAge = 0
	t.Cleanup(func() { pruneAge = 10 * time.Minute })
	fresh, err := FileLayer(self, "/pilotage")
	if err != nil {
		t.Fatal(err)
	}
	want, err := fresh.Digest()
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		l, err := CachedFileLayer(self, "/pilotage", dir)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := l.Digest(); err != nil || got != want {
			t.Fatalf("cached layer digest %v (%v), want %v", got, err, want)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*.tar.gz")); len(files) != 1 {
		t.Fatalf("cache holds %v, want one layer", files)
	}
	for i := range keepLayers + 2 {
		if _, err := CachedFileLayer(self, "/other"+string(rune('a'+i)), dir); err != nil {
			t.Fatal(err)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != keepLayers {
		t.Fatalf("cache holds %d files, want %d", len(files), keepLayers)
	}
}
