package supervisor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilotage/pilotage/internal/config"
	"github.com/pilotage/pilotage/internal/graph"
)

// realConfig is a component's config type; realSchema is its shape as
// "pilotage generate" embeds it.
type realConfig struct {
	Name    string        `toml:"name"`
	Port    uint16        `toml:"port"`
	Timeout time.Duration `toml:"timeout"`
	At      time.Time     `toml:"at"`
	Inner   struct {
		Depth int8 `toml:"depth"`
	} `toml:"inner"`
	Tags     []string         `toml:"tags"`
	Limits   map[string]int64 `toml:"limits"`
	Extra    any              `toml:"extra"`
	Untagged bool
	Odd      int `toml:"1st-ß"`
	Same     int `toml:"untagged"` // another key, which maps to a Go name in use
}

var realSchema = &graph.Type{Kind: graph.Table, Fields: []graph.Field{
	{Key: "name", Type: &graph.Type{Kind: graph.String}},
	{Key: "port", Type: &graph.Type{Kind: graph.Uint16}},
	{Key: "timeout", Type: &graph.Type{Kind: graph.Duration}},
	{Key: "at", Type: &graph.Type{Kind: graph.Datetime}},
	{Key: "inner", Type: &graph.Type{Kind: graph.Table, Fields: []graph.Field{{Key: "depth", Type: &graph.Type{Kind: graph.Int8}}}}},
	{Key: "tags", Type: &graph.Type{Kind: graph.Array, Elem: &graph.Type{Kind: graph.String}}},
	{Key: "limits", Type: &graph.Type{Kind: graph.Map, Elem: &graph.Type{Kind: graph.Int64}}},
	{Key: "extra", Type: &graph.Type{Kind: graph.Any}},
	{Key: "Untagged", Type: &graph.Type{Kind: graph.Bool}},
	{Key: "1st-ß", Type: &graph.Type{Kind: graph.Int}},
	{Key: "untagged", Type: &graph.Type{Kind: graph.Int}},
}}

// Checked against the embedded schema, a configuration file gets the same
// verdict, with the same messages, as checked against the component's own
// config type (host.CheckConfig, in every proclet): unknown keys, values
// of the wrong kind or out of range, at any depth.
func TestCheckConfigMatchesRealTypes(t *testing.T) {
	const comp = "example.com/app/a.A"
	g := &graph.Graph{Components: []graph.Component{
		{Name: comp, Config: realSchema, Listeners: []string{"web"}},
		{Name: "example.com/app/b.B"},
	}}
	for _, section := range []string{
		"name = \"x\"\nport = 8080\ntimeout = \"1.5s\"\nat = 2026-01-02T03:04:05Z\ntags = [\"a\"]\nlimits = {a = 1}\nextra = {any = [1, \"x\"]}\nuntagged = true\n[components.\"a.A\".inner]\ndepth = 3\n",
		"timeout = 1000\n",
		"\"1st-ß\" = \"x\"\n",
		"untagged = 1\nUntagged = 2\n",
		"nmae = \"x\"\n",
		"port = \"x\"\n",
		"port = 70000\n",
		"timeout = \"soon\"\n",
		"timeout = true\n",
		"at = \"yesterday\"\n",
		"tags = [1]\n",
		"tags = \"a\"\n",
		"limits = {a = \"b\"}\n",
		"inner = 5\n",
		"[components.\"a.A\".inner]\ndepht = 3\n",
		"[components.\"a.A\".inner]\ndepth = 300\n",
		"[components.\"a.A\".nested]\nx = 1\n",
	} {
		text := "[components.\"a.A\"]\n" + section
		fromSchema := CheckConfig(g, mustParse(t, text))
		fromType := errors.Join(mustParse(t, text).CheckComponentConfigs(map[string]any{comp: &realConfig{}, "example.com/app/b.B": nil}))
		if errString(fromSchema) != errString(fromType) {
			t.Errorf("config %q:\nschema check: %v\ntype check:   %v", text, fromSchema, fromType)
		}
	}

	// Sections and listeners the application does not have.
	err := CheckConfig(g, mustParse(t, "[components.\"c.C\"]\nx = 1\n\n[components.\"b.B\"]\nx = 1\n\n[listeners.api]\n"))
	for _, want := range []string{
		`test.toml:1: [components."c.C"] names no component of this application (known: example.com/app/a.A, example.com/app/b.B)`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckConfig: %v\nwant an error containing %q", err, want)
		}
	}
	err = CheckConfig(g, mustParse(t, "[components.\"b.B\"]\nx = 1\n\n[listeners.api]\n"))
	for _, want := range []string{
		`test.toml:1: [components."b.B"]: example.com/app/b.B takes no configuration`,
		`test.toml:4: [listeners.api] names no listener of this application (known: web)`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckConfig: %v\nwant an error containing %q", err, want)
		}
	}
}

func mustParse(t *testing.T, text string) *config.File {
	t.Helper()
	f, err := config.Parse("test.toml", text)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// A binary without an embedded graph (generated code from before it, or
// not a pilotage application) is refused before anything starts, with
// what to do.
func TestNewRefusesBinaryWithoutGraph(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "app")
	if err := os.WriteFile(bin, []byte("\x7fELF not an app"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := New(context.Background(), Options{App: "app", Binary: bin, StateDir: stateDir(t), Config: config.Empty()})
	if !errors.Is(err, graph.ErrNoGraph) || !strings.Contains(err.Error(), `run "pilotage generate" again`) {
		t.Errorf("New with a binary without a graph: %v, want ErrNoGraph saying to run pilotage generate", err)
	}
}

// The deployment id is the app's name and 12 hex digits of the binary's
// SHA-256, so two builds of one app differ.
func TestDeploymentID(t *testing.T) {
	dir := t.TempDir()
	ids := map[string]bool{}
	for _, content := range []string{"build one", "build two"} {
		bin := filepath.Join(dir, "app")
		if err := os.WriteFile(bin, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
		b, err := readBinary(bin, false)
		if err != nil {
			t.Fatal(err)
		}
		id := deploymentID("shop", b.hash)
		if !strings.HasPrefix(id, "shop-") || len(id) != len("shop-")+12 {
			t.Errorf("deployment id %q, want shop-<12 hex digits>", id)
		}
		ids[id] = true
	}
	if len(ids) != 2 {
		t.Errorf("two builds got the same deployment id: %v", ids)
	}
}
