package generate

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
)

// TestMain makes the go command update the temporary modules' go.mod files
// by itself, so tests need no network when the module cache is warm.
func TestMain(m *testing.M) {
	os.Setenv("GOFLAGS", "-mod=mod -buildvcs=false")
	os.Setenv("GOWORK", "off")
	os.Exit(m.Run())
}

// repoRoot returns the root of the pilotage module, found from the test's
// working directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/pilotage/pilotage\n") {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("cannot find the github.com/pilotage/pilotage module above the test directory")
		}
		dir = parent
	}
}

// writeModule writes the files of testdata/name.txtar as a new module named
// example.com/<module> using the pilotage module at the repository root, and
// returns its directory.
func writeModule(t *testing.T, name, module string) string {
	t.Helper()
	root := repoRoot(t)
	ar, err := txtar.ParseFile(filepath.Join("testdata", name+".txtar"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gomod := fmt.Sprintf("module example.com/%s\n\ngo 1.26\n\nrequire github.com/pilotage/pilotage v0.0.0\n\nreplace github.com/pilotage/pilotage => %s\n", module, root)
	files := map[string][]byte{"go.mod": []byte(gomod)}
	if sum, err := os.ReadFile(filepath.Join(root, "go.sum")); err == nil {
		files["go.sum"] = sum
	}
	for _, f := range ar.Files {
		files[f.Name] = f.Data
	}
	for name, data := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// goCmd runs the go command in dir and returns its combined output.
func goCmd(dir string, args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// mustGo runs the go command in dir, failing the test if it fails.
func mustGo(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := goCmd(dir, args...)
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// replaceInFile replaces old with new in the file at path, which must contain old.
func replaceInFile(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	if err := os.WriteFile(path, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}
