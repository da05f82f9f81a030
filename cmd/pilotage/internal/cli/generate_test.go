package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGenerateCheck runs "pilotage generate -check" on a module before and
// after generation, and after a second implementation is added: it writes
// nothing, lists what is not up to date, and exits with status 1 unless
// everything is.
func TestGenerateCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	root, err := filepath.Abs("../../../..") // the repository root: the pilotage module
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"go.mod": "module example.com/check\n\ngo 1.26\n\nrequire github.com/pilotage/pilotage v0.0.0\n\nreplace github.com/pilotage/pilotage => " + root + "\n",
		"go.sum": string(sum),
		"a/a.go": "package a\n\nimport (\n\t\"context\"\n\n\t\"github.com/pilotage/pilotage\"\n)\n\ntype A interface {\n\tM(ctx context.Context) error\n}\n\ntype a struct{ pilotage.Implements[A] }\n\nfunc (*a) M(context.Context) error { return nil }\n",
	}
	for name, data := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
	t.Setenv("GOFLAGS", "-mod=mod")
	t.Setenv("GOWORK", "off")
	gen := filepath.Join(dir, "a", "pilotage_gen.go")
	run := func(args ...string) (int, string, string) {
		var stdout, stderr strings.Builder
		code := Main(append([]string{"generate"}, args...), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}

	if code, out, errOut := run("-check"); code != 1 || out != "a/pilotage_gen.go\n" || !strings.Contains(errOut, "run \"pilotage generate\"") {
		t.Errorf("-check before generation: status %d, stdout %q, stderr %q; want 1, the missing file, and what to do", code, out, errOut)
	}
	if _, err := os.Stat(gen); !os.IsNotExist(err) {
		t.Fatalf("-check wrote %s (stat: %v)", gen, err)
	}
	if code, _, errOut := run(); code != 0 {
		t.Fatalf("generate: status %d: %s", code, errOut)
	}
	if code, out, errOut := run("-check", "./..."); code != 0 || out != "" {
		t.Errorf("-check after generation: status %d, stdout %q, stderr %q; want 0 and nothing", code, out, errOut)
	}

	second := "package a\n\nimport \"context\"\n\ntype b struct{ pilotage.Implements[A] }\n\nfunc (*b) M(context.Context) error { return nil }\n"
	second = strings.Replace(second, "import \"context\"", "import (\n\t\"context\"\n\n\t\"github.com/pilotage/pilotage\"\n)", 1)
	if err := os.WriteFile(filepath.Join(dir, "a", "b.go"), []byte(second), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := run("-check"); code != 1 || !strings.Contains(errOut, "component a.A has 2 implementations") {
		t.Errorf("-check with a second implementation: status %d, stderr %q; want 1 and the problem", code, errOut)
	}
}
