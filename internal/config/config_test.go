package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	f, err := Parse("p.toml", `
[app]
name = "shop"
[listeners.shop]
address = "127.0.0.1:8080"
[run]
replicas = 3
colocate = [["a.A", "b.B"]]
start_limit = 4
start_interval = "10s"
restart_cooldown = "1m"
[run.components."a.A"]
restart_dependents = true
[units.redis]
command = "redis-server"
required_by = ["a.A"]
[units.redis.ready]
tcp = "127.0.0.1:6390"
[components."cart.Cart"]
size = 3
`)
	if err != nil {
		t.Fatal(err)
	}
	if f.App.Name != "shop" || f.Listeners["shop"].Address != "127.0.0.1:8080" || f.Run.Replicas != 3 ||
		f.Run.StartLimit != 4 || f.Run.StartInterval.Duration != 10*time.Second || f.Run.RestartCooldown.Duration != time.Minute ||
		!f.Run.Components["a.A"].RestartDependents || f.Run.Components["a.A"].Replicas != 0 ||
		f.Units["redis"].Ready.TCP != "127.0.0.1:6390" {
		t.Errorf("parsed %+v", f)
	}
	var c struct{ Size int }
	if err := f.DecodeComponent("example.com/shop/cart.Cart", &c); err != nil || c.Size != 3 {
		t.Errorf("DecodeComponent = %+v, %v", c, err)
	}
	if err := f.CheckComponents([]string{"example.com/shop/cart.Cart"}); err != nil {
		t.Error(err)
	}
	if err := f.CheckComponents([]string{"example.com/shop/catalog.Catalog"}); err == nil || !strings.Contains(err.Error(), `"cart.Cart"`) {
		t.Errorf("CheckComponents with a misspelt section = %v", err)
	}
}

// Every error names the file, and the line and column where the decoder
// knows them: syntax errors, values of the wrong type or form, unknown keys
// (the column of their value), unknown tables (the line of their header).
func TestStrict(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"[app]\nnmae = \"x\"\n", `p.toml:2:9: unknown key "app.nmae"`},
		{"[run]\nreplica = 2\n", `p.toml:2:11: unknown key "run.replica"`},
		{"\n[listners.x]\naddress = \"\"\n", `p.toml:2: unknown key "listners.x"`},
		{"[run]\nstart_interval = \"soon\"\n", `p.toml:2:19: bad duration "soon"`},
		{"[run]\nreplicas = \"two\"\n", `p.toml:2:13: run.replicas: incompatible types: TOML value has type string; destination has type integer`},
		{"[run]\nreplicas = 1\nfoo bar\n", `p.toml:3:5: expected '.' or '=', but got 'b' instead`},
		{"[units.u]\ncommand = \"x\"\n[units.u.ready]\nexec = [\"true\"]\ntimout = \"1s\"\n", `p.toml:5:11: unknown key "units.u.ready.timout"`},
	} {
		_, err := Parse("p.toml", tc.text)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v; want an error containing %q", tc.text, err, tc.want)
		}
	}
	f, err := Parse("p.toml", "[components.\"cart.Cart\"]\nsize = 3\ncolour = \"red\"\n")
	if err != nil {
		t.Fatal(err)
	}
	var c struct{ Size int }
	if err := f.DecodeComponent("x/cart.Cart", &c); err == nil || !strings.Contains(err.Error(), `p.toml:3:11: unknown key "components.\"cart.Cart\".colour"`) {
		t.Errorf("DecodeComponent with unknown key = %v", err)
	}
}

// Values that used to be silently reinterpreted (replicas = 0 ran 2
// replicas, start_limit = -1 ran as 5, "0s" probe intervals were
// accepted) and names that cannot name a directory are errors.
func TestRejectedValues(t *testing.T) {
	unit := "[units.u]\ncommand = \"x\"\n"
	for _, tc := range []struct{ text, want string }{
		{"[run]\nreplicas = 0\n", `p.toml:2:12: [run] replicas = 0: want at least 1`},
		{"[run]\nreplicas = -1\n", `[run] replicas = -1: want at least 1`},
		{"[run.components.\"a.A\"]\nreplicas = 0\n", `p.toml:2:12: [run.components."a.A"] replicas = 0: want at least 1`},
		{"[run]\nstart_limit = -1\n", `p.toml:2:15: [run] start_limit = -1: want at least 1`},
		{"[run]\nstart_limit = 0\n", `[run] start_limit = 0: want at least 1`},
		{"[run]\nstart_interval = \"0s\"\n", `[run] start_interval = "0s": want a positive duration`},
		{"[run]\nrestart_cooldown = \"-5s\"\n", `[run] restart_cooldown = "-5s": want a positive duration`},
		{unit + "[units.u.ready]\ntcp = \"h:1\"\ninterval = \"0s\"\n", `p.toml:5:13: [units.u.ready] interval = "0s": want a positive duration`},
		{unit + "[units.u.ready]\ntcp = \"h:1\"\ntimeout = \"-1s\"\n", `[units.u.ready] timeout = "-1s": want a positive duration`},
		{unit + "[units.u.ready]\ntimeout = \"1s\"\n", `p.toml:3: [units.u.ready]: interval and timeout need a probe`},
		{"[units.u]\nargs = [\"x\"]\n", `p.toml:1: [units.u]: command is required`},
		{unit + "restart = \"sometimes\"\n", `p.toml:3:12: [units.u] restart = "sometimes": want on-failure, always or no`},
		{unit + "env = [\"A=1\", \"B\"]\n", `[units.u] env[1] = "B": want KEY=value`},
		{"[listeners.web]\naddress = \"8080\"\n", `[listeners.web] address = "8080": want host:port`},
		{"[listeners.web]\nmax_connections = 0\n", `[listeners.web] max_connections = 0: want at least 1`},
		{"[listeners.web]\nidle_timeout = \"0s\"\n", `[listeners.web] idle_timeout = "0s": want a positive duration`},
		{"[app]\nname = \"a\\nb\"\n", `p.toml:2:9: app name "a\nb" is not valid`},
		{"[app]\nname = \"../x\"\n", `app name "../x" is not valid`},
		{"[app]\nname = \"\"\n", `app name "" is not valid`},
	} {
		_, err := Parse("p.toml", tc.text)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v; want an error containing %q", tc.text, err, tc.want)
		}
	}
}

// Parse reports every problem, not only the first.
func TestEveryProblemReported(t *testing.T) {
	_, err := Parse("p.toml", "[run]\nreplicas = 0\nstart_limt = 3\n[app]\nname = \"a b\"\n")
	for _, want := range []string{`p.toml:2:12: [run] replicas = 0`, `p.toml:3:14: unknown key "run.start_limt"`, `p.toml:5:9: app name "a b"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse = %v; want an error containing %q", err, want)
		}
	}
}

func TestCheckAppName(t *testing.T) {
	for _, ok := range []string{"shop", "my-app_2.v1", "A", strings.Repeat("a", 63)} {
		if err := CheckAppName(ok); err != nil {
			t.Errorf("CheckAppName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".hidden", "-x", "a/b", "a b", "a\nb", "..", strings.Repeat("a", 64), "café"} {
		if err := CheckAppName(bad); err == nil {
			t.Errorf("CheckAppName(%q) = nil, want an error", bad)
		}
	}
}

type webConfig struct {
	Base     string `toml:"base"`
	FailInit bool   `toml:"fail_init"`
}

// Every component section is checked against its component's config type
// before anything starts, and every problem is reported with its place.
func TestCheckComponentConfigs(t *testing.T) {
	f, err := Parse("p.toml", `[components."fx.FX"]
bsae = "/"

[components."web.Web"]
fail_init = "yes"

[components."plain.Plain"]
x = 1

[components."empty.Empty"]
`)
	if err != nil {
		t.Fatal(err)
	}
	configs := map[string]any{
		"a/fx.FX":       &webConfig{},
		"a/web.Web":     &webConfig{},
		"a/plain.Plain": nil,
		"a/empty.Empty": nil,
		"a/other.Other": &webConfig{}, // no section: nothing to check
	}
	err = f.CheckComponentConfigs(configs)
	for _, want := range []string{
		`p.toml:2:9: unknown key "components.\"fx.FX\".bsae"`,
		`p.toml:5:14: components."web.Web".fail_init: incompatible types: TOML value has type string; destination has type boolean`,
		`p.toml:7: [components."plain.Plain"]: a/plain.Plain takes no configuration`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckComponentConfigs = %v; want an error containing %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "empty.Empty") {
		t.Errorf("an empty section is reported: %v", err)
	}

	good, err := Parse("p.toml", "[components.\"a/web.Web\"]\nbase = \"/x\"\n")
	if err != nil {
		t.Fatal(err)
	}
	if err := good.CheckComponentConfigs(map[string]any{"a/web.Web": &webConfig{}}); err != nil {
		t.Errorf("CheckComponentConfigs of a good section = %v", err)
	}
	if err := Empty().CheckComponentConfigs(map[string]any{"a/web.Web": &webConfig{}}); err != nil {
		t.Errorf("CheckComponentConfigs of no file = %v", err)
	}
}

func TestCheckComponentsNames(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"[components.\"web.Wbe\"]\n", `p.toml:1: [components."web.Wbe"] names no component of this application (known: a/web.Web, b/store.Store, c/store.Store)`},
		{"[components.\"store.Store\"]\n", `[components."store.Store"] names b/store.Store and c/store.Store: use the full name`},
		{"[components.\"a/web.Web\"]\n[components.\"web.Web\"]\n", `[components."a/web.Web"] and [components."web.Web"] both configure a/web.Web`},
	} {
		f, err := Parse("p.toml", tc.text)
		if err != nil {
			t.Fatal(err)
		}
		err = f.CheckComponents([]string{"a/web.Web", "b/store.Store", "c/store.Store"})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: CheckComponents = %v; want an error containing %q", tc.text, err, tc.want)
		}
	}
}

func TestCheckListeners(t *testing.T) {
	f, err := Parse("p.toml", "[listeners.site]\naddress = \"127.0.0.1:0\"\n\n[listeners.sitee]\naddress = \"\"\n")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.CheckListeners([]string{"site"}); err == nil || !strings.Contains(err.Error(), "p.toml:4: [listeners.sitee] names no listener of this application (known: site)") {
		t.Errorf("CheckListeners = %v", err)
	}
	if err := f.CheckListeners([]string{"site", "sitee"}); err != nil {
		t.Errorf("CheckListeners = %v", err)
	}
}

// Where places keys for messages made outside this package (the plan's).
func TestWhere(t *testing.T) {
	f, err := Parse("p.toml", "[run]\ncolocate = [[\"a.A\"]]\n\n[units.u]\ncommand = \"x\"\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key  []string
		want string
	}{
		{[]string{"run", "colocate"}, "p.toml:2:13"},
		{[]string{"units", "u"}, "p.toml:4"},
		{[]string{"units", "u", "command"}, "p.toml:5:12"},
		{[]string{"units", "v"}, "p.toml"},
	} {
		if got := f.Where(tc.key...); got != tc.want {
			t.Errorf("Where(%q) = %q, want %q", tc.key, got, tc.want)
		}
	}
	// Inside an array of tables, the decoder places only the array.
	f, err = Parse("p.toml", "[components.\"a.A\"]\n[[components.\"a.A\".items]]\nname = \"x\"\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Where("components", "a.A", "items", "name"); got != "p.toml:2" {
		t.Errorf("Where in an array of tables = %q, want p.toml:2", got)
	}
	if got := Empty().Where("run"); got != "(inline)" {
		t.Errorf("Empty().Where = %q", got)
	}
}

// A joined error can be taken apart by callers that list problems.
func TestErrorsAreJoined(t *testing.T) {
	_, err := Parse("p.toml", "[run]\nreplicas = 0\nstart_limit = 0\n")
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) != 2 {
		t.Errorf("Parse = %#v; want two joined errors", err)
	}
}

func TestTelemetrySection(t *testing.T) {
	f, err := Parse("p.toml", "[telemetry]\notlp_endpoint = \"http://127.0.0.1:4318\"\nsample_ratio = 0.25\nmetrics = false\nmetrics_address = \"127.0.0.1:9464\"\n")
	if err != nil {
		t.Fatal(err)
	}
	if tl := f.Telemetry; tl.OTLPEndpoint != "http://127.0.0.1:4318" || tl.Ratio() != 0.25 || tl.KubeRatio() != 0.25 || tl.MetricsOn() || tl.MetricsAddress != "127.0.0.1:9464" || tl.TraceLimit() != DefaultMaxTraces {
		t.Errorf("got %+v", tl)
	}
	if d := Empty().Telemetry; d.Ratio() != 1 || !d.MetricsOn() || d.KubeRatio() != DefaultKubeSampleRatio {
		t.Errorf("defaults: ratio %v metrics %v on Kubernetes %v, want 1, on and %v", d.Ratio(), d.MetricsOn(), d.KubeRatio(), DefaultKubeSampleRatio)
	}
	off := 0.0
	if c := (Telemetry{SampleRatio: &off}); c.KubeRatio() != 0 || c.Ratio() != 0 {
		t.Errorf("sample_ratio = 0: ratio %v, on Kubernetes %v", c.Ratio(), c.KubeRatio())
	}
	for _, bad := range []string{`otlp_endpoint = "127.0.0.1:4318"`, `sample_ratio = 1.5`, `metrics_address = "9464"`, `max_traces = 0`, `colour = 1`} {
		if _, err := Parse("p.toml", "[telemetry]\n"+bad+"\n"); err == nil {
			t.Errorf("[telemetry] %s: accepted", bad)
		}
	}
}
