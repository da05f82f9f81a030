package pilotagetest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pilotage/pilotage/internal/fingerprint"
	_ "github.com/pilotage/pilotage/internal/testapp" // registers the components checked
)

// TestStaleGeneratedFile copies internal/testapp (its generated file
// included) into a module of the same path, and checks that the copy is
// found up to date, then out of date after each change that compiles
// without regeneration yet changes what pilotage generate writes.
func TestStaleGeneratedFile(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module github.com/pilotage/pilotage\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"internal/testapp", "internal/testapp/money"} {
		copyGoFiles(t, filepath.Join("..", dir), filepath.Join(root, dir))
	}
	m, err := fingerprint.FindModule(filepath.Join(root, "internal"))
	if err != nil || m.Path != "github.com/pilotage/pilotage" || m.Root != root {
		t.Fatalf("FindModule = %+v, %v", m, err)
	}
	if err := staleGenerated(m, root); err != nil {
		t.Fatalf("fresh copy of internal/testapp: %v", err)
	}
	app := filepath.Join(root, "internal", "testapp", "testapp.go")
	orig, err := os.ReadFile(app)
	if err != nil {
		t.Fatal(err)
	}
	for _, edit := range []struct{ name, file, text string }{
		{"second implementation", app, "\ntype calc2 struct{ pilotage.Implements[Calc] }\n"},
		{"new Idempotent mark", app, "\nvar _ pilotage.Idempotent = Calc.Move\n"},
		{"new Ref", app, "\ntype web2 struct {\n\tpilotage.Implements[Web]\n\tcalc pilotage.Ref[Calc]\n}\n"},
		{"new error in a package without components", filepath.Join(root, "internal", "testapp", "money", "errors.go"), "package money\n\nvar ErrNegative = errors.New(\"negative\")\n"},
		{"new import", app, "\nimport _ \"database/sql\"\n"},
		{"new unexported error in a component package", app, "\nvar errNew = errors.New(\"new\")\n"},
	} {
		old, _ := os.ReadFile(edit.file)
		if err := os.WriteFile(edit.file, append(append([]byte(nil), old...), edit.text...), 0o644); err != nil {
			t.Fatal(err)
		}
		err := staleGenerated(m, root)
		if err == nil || !strings.Contains(err.Error(), filepath.Join("internal", "testapp", "pilotage_gen.go")+" is out of date") || !strings.Contains(err.Error(), `run "pilotage generate ./..."`) {
			t.Errorf("%s: staleGenerated = %v; want the testapp file reported out of date", edit.name, err)
		}
		if old == nil {
			os.Remove(edit.file)
		} else if err := os.WriteFile(edit.file, old, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(app, orig, 0o644); err != nil {
		t.Fatal(err)
	}

	// A package under test declaring a component without a generated file.
	pkg := filepath.Join(root, "internal", "newcomp")
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	src := "package newcomp\n\nimport \"github.com/pilotage/pilotage\"\n\ntype I interface{}\n\ntype impl struct{ pilotage.Implements[I] }\n"
	if err := os.WriteFile(filepath.Join(pkg, "newcomp.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := staleGenerated(m, pkg); err == nil || !strings.Contains(err.Error(), "pilotage_gen.go is missing") {
		t.Errorf("package with a component and no generated file: staleGenerated = %v; want it reported missing", err)
	}
}

// copyGoFiles copies the .go files of dir src into dir dst.
func copyGoFiles(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
