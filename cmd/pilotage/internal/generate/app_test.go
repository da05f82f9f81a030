package generate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pilotage/pilotage/internal/graph"
)

// TestApp generates code for testdata/app.txtar (interfaces and
// implementations in different packages), then builds, vets and runs it: the
// program checks local and remote calls, the codec round trip of every
// supported type, error and panic transport, and the JSON handlers.
func TestApp(t *testing.T) {
	t.Parallel()
	dir := writeModule(t, "app", "app")
	if err := Generate(dir, []string{"./..."}); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	for _, p := range []string{"api", "storeimpl", "clockimpl", "."} {
		if _, err := os.Stat(filepath.Join(dir, p, genFileName)); err != nil {
			t.Errorf("package %s: %v", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "old", genFileName)); !os.IsNotExist(err) {
		t.Errorf("stale generated file in package old was not removed: %v", err)
	}
	first := readGenFiles(t, dir)
	mainGen := first["pilotage_gen.go"]
	for _, want := range []string{`_ "example.com/app/storeimpl"`, `_ "example.com/app/clockimpl"`, "func (*app) RunPilotageGenerate() {}"} {
		if !strings.Contains(mainGen, want) {
			t.Errorf("main package's generated file lacks %s", want)
		}
	}
	// Errors of packages without components are registered where
	// components reach them, each once along an import chain.
	storeGen := first["storeimpl/pilotage_gen.go"]
	for _, key := range []string{"example.com/app/money.ErrCurrencyMismatch", "example.com/app/money/rates.ErrStale", "strconv.ErrSyntax"} {
		if want := fmt.Sprintf("RegisterError(%q, ", key); !strings.Contains(storeGen, want) {
			t.Errorf("storeimpl's generated file does not register %s", key)
		}
	}
	for _, reg := range []string{`RegisterError("errors.ErrUnsupported", errors.ErrUnsupported)`, `RegisterError("example.com/app/api.errPrivate", errPrivate)`} {
		if !strings.Contains(first["api/pilotage_gen.go"], reg) {
			t.Errorf("api's generated file lacks %s", reg)
		}
	}
	if strings.Contains(storeGen, "errors.ErrUnsupported") {
		t.Errorf("storeimpl's generated file registers errors.ErrUnsupported, which api (that it imports) registers")
	}
	if err := Generate(dir, []string{"./..."}); err != nil {
		t.Fatalf("second Generate: %v", err)
	}
	for name, src := range readGenFiles(t, dir) {
		if first[name] != src {
			t.Errorf("%s differs between two runs of Generate", name)
		}
	}

	mustGo(t, dir, "build", "./...")
	mustGo(t, dir, "vet", "./...")
	out := mustGo(t, dir, "run", ".")
	if strings.TrimSpace(out) != "OK" {
		t.Errorf("program output:\n%s", out)
	}
	checkEmbeddedGraph(t, dir)
	if t.Failed() {
		return
	}

	// Code changes after generation must break the build, and the first
	// line of the compiler's message must tell to run pilotage generate.
	api := filepath.Join(dir, "api", "api.go")
	orig, err := os.ReadFile(api)
	if err != nil {
		t.Fatal(err)
	}
	for _, edit := range []struct{ name, old, new string }{
		{"new method", "\tPanic(ctx context.Context) error\n", "\tPanic(ctx context.Context) error\n\tNew(ctx context.Context) error\n"},
		{"removed method", "\tPanic(ctx context.Context) error\n", ""},
		{"changed method", "Get(ctx context.Context, key string) (string, error)", "Get(ctx context.Context, key int) (string, error)"},
		{"new field", "type Point struct{ X, Y float64 }", "type Point struct{ X, Y, Z float64 }"},
		{"changed field", "\tVal  int\n\tNext *Node", "\tVal  string\n\tNext *Node"},
		{"changed named type", "type Names []string", "type Names []int"},
	} {
		replaceInFile(t, api, edit.old, edit.new)
		out, err := goCmd(dir, "build", "./api")
		if first := firstErrorLine(out); err == nil || !strings.Contains(first, "pilotage_gen.go") || !strings.Contains(first, staleAlias+" does not satisfy") {
			t.Errorf("%s: go build = %v, want failure whose first line names %s; first line %q, output:\n%s", edit.name, err, staleAlias, first, out)
		}
		if err := os.WriteFile(api, orig, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// firstErrorLine returns the first line of go command output that is not a
// "# package" header.
func firstErrorLine(out string) string {
	for line := range strings.Lines(out) {
		if !strings.HasPrefix(line, "#") {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// readGenFiles returns the generated files under dir by relative path.
func readGenFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.Name() != genFileName {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !bytes.HasPrefix(b, []byte(header)) {
			t.Errorf("%s does not start with the generated header", path)
		}
		rel, _ := filepath.Rel(dir, path)
		files[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// checkEmbeddedGraph builds the app of testdata/app.txtar and checks the
// component graph the pilotage tool reads from the binary.
func checkEmbeddedGraph(t *testing.T, dir string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "app")
	mustGo(t, dir, "build", "-o", bin, ".")
	g, err := graph.Read(bin)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range g.Components {
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(b))
	}
	want := []string{
		`{"name":"example.com/app/api.Clock","refs":["example.com/app/clockimpl.Ticker"],"listeners":[],"main":false,"config":{"kind":"table","fields":[{"key":"zone","type":{"kind":"string"}},{"key":"drift","type":{"kind":"table","fields":[{"key":"max","type":{"kind":"duration"}}]}}]},` +
			`"methods":[{"name":"Now","params":[],"results":["time.Time"]}]}`,
		`{"name":"example.com/app/api.Store","refs":["example.com/app/api.Clock"],"listeners":["store"],"main":false,"methods":[` +
			`{"name":"Add","params":[{"name":"a","type":"int"},{"name":"b","type":"int"}],"results":["int"]},` +
			`{"name":"Echo","params":[{"name":"a","type":"All"}],"results":["All"]},` +
			`{"name":"Get","params":[{"name":"key","type":"string"}],"results":["string"]},` +
			`{"name":"Multi","params":[{"name":"a","type":"int"},{"name":"b","type":"*Point"},{"name":"c","type":"[]string"}],"results":["int","*Point","[]string"]},` +
			`{"name":"Panic","params":[],"results":[]},` +
			`{"name":"Proto","params":[{"name":"m","type":"*wrapperspb.StringValue"}],"results":["*wrapperspb.StringValue"]}]}`,
		`{"name":"example.com/app/clockimpl.Ticker","refs":[],"listeners":[],"main":false,"methods":[` +
			`{"name":"Label","params":[{"name":"arg1","type":"int"},{"name":"arg2","type":"string"}],"results":["string"]},` +
			`{"name":"Tick","params":[{"name":"n","type":"int"}],"results":["[]time.Duration"]}]}`,
		`{"name":"github.com/pilotage/pilotage.Main","refs":["example.com/app/api.Store"],"listeners":["http"],"main":true}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("graph read from the binary:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
