package fingerprint

import (
	"os"
	"path/filepath"
	"testing"
)

func TestModulePath(t *testing.T) {
	for gomod, want := range map[string]string{
		"module example.com/a\n\ngo 1.26\n":         "example.com/a",
		"// c\nmodule \"example.com/b\" // why\n":   "example.com/b",
		"go 1.26\nmodulex example.com/c\n":          "",
		"module\texample.com/d\nrequire x v1.0.0\n": "example.com/d",
	} {
		if got := modulePath([]byte(gomod)); got != want {
			t.Errorf("modulePath(%q) = %q, want %q", gomod, got, want)
		}
	}
}

// TestOf checks what changes a fingerprint: declarations the generator
// reads, in the package and in the packages of its module it imports, and
// not function bodies, tests or the generated file.
func TestOf(t *testing.T) {
	root := t.TempDir()
	write := func(name, src string) {
		t.Helper()
		path := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/m\n")
	write("a/a.go", "package a\n\nimport \"example.com/m/b\"\n\ntype impl struct{ pilotage.Implements[I] }\n\nfunc f() error { return b.ErrX }\n")
	write("b/b.go", "package b\n\nvar ErrX = errors.New(\"x\")\n")
	m, err := FindModule(filepath.Join(root, "a"))
	if err != nil {
		t.Fatal(err)
	}
	fp := func() string {
		t.Helper()
		s, err := m.Of("example.com/m/a")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	base := fp()
	if Read([]byte("package a\n\n"+Marker+base+"\n")) != base {
		t.Errorf("Read does not find the fingerprint written after Marker")
	}
	for name, src := range map[string]string{
		"a/a_test.go":       "package a\n\nvar ErrTest = 1\n",
		"a/pilotage_gen.go": "package a\n\nvar ErrGen = 1\n",
		"a/body.go":         "package a\n\nfunc g() { var errLocal = 1; _ = errLocal }\n",
	} {
		write(name, src)
		if got := fp(); got != base {
			t.Errorf("adding %s changed the fingerprint", name)
		}
	}
	write("b/more.go", "package b\n\nvar ErrY = errors.New(\"y\")\n")
	if fp() == base {
		t.Errorf("a new exported variable in an imported package of the module left the fingerprint unchanged")
	}
}
