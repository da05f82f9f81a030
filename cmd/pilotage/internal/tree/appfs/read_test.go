package appfs

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// mustRead reads p, failing the test on an error.
func mustRead(t *testing.T, f tree.FS, p string, opts tree.ReadOptions) tree.Content {
	t.Helper()
	c, err := f.Read(testContext(t), p, opts)
	if err != nil {
		t.Fatalf("Read(%s): %v", p, err)
	}
	return c
}

// decode decodes the JSON of v (a Content's Value) into out.
func decode(t *testing.T, v, out any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
}

func TestReadStatuses(t *testing.T) {
	a := shared(t)
	f := newFS(t, a.root)
	var cs api.ComponentStatus
	decode(t, mustRead(t, f, "/apps/shop/components/a.A/status", tree.ReadOptions{}).Value, &cs)
	if cs.FullName != "example.com/shop/a.A" || cs.ReadyReplicas != 2 {
		t.Errorf("cat components/a.A/status: %+v", cs)
	}
	var again api.ComponentStatus // cat of the directory shows its status
	decode(t, mustRead(t, f, "/apps/shop/components/a.A", tree.ReadOptions{}).Value, &again)
	if again.FullName != cs.FullName {
		t.Errorf("cat components/a.A: %+v", again)
	}
	var cfg map[string]any
	decode(t, mustRead(t, f, "/apps/shop/components/a.A/config", tree.ReadOptions{}).Value, &cfg)
	if cfg["greeting"] != "hello" || cfg["limits"].(map[string]any)["rate"] != 5.0 {
		t.Errorf("cat components/a.A/config = %v", cfg)
	}
	var none map[string]any
	decode(t, mustRead(t, f, "/apps/shop/components/b.B/config", tree.ReadOptions{}).Value, &none)
	if none == nil || len(none) != 0 {
		t.Errorf("cat components/b.B/config = %v, want {}", none)
	}
	var rs api.ReplicaStatus
	decode(t, mustRead(t, f, "/apps/shop/components/a.A/replicas/1/status", tree.ReadOptions{}).Value, &rs)
	if rs.Source != "a.A/1" || rs.PID == 0 {
		t.Errorf("cat replicas/1/status: %+v", rs)
	}
	var env EnvContent
	decode(t, mustRead(t, f, "/apps/shop/components/a.A/replicas/1/env", tree.ReadOptions{}).Value, &env)
	if env.PID != rs.PID || env.Dir != a.workDir || env.Env["X"] != "x-value-42" || env.Env["PATH"] == "" {
		t.Errorf("cat replicas/1/env: pid %d dir %s X=%q (want pid %d dir %s)", env.PID, env.Dir, env.Env["X"], rs.PID, a.workDir)
	}
	if _, ok := env.Env["PILOTAGE_ENVELOPE"]; ok {
		t.Errorf("cat replicas/1/env shows the envelope's variable")
	}
	var unitEnv EnvContent
	decode(t, mustRead(t, f, "/apps/shop/units/sleeper/replicas/0/env", tree.ReadOptions{}).Value, &unitEnv)
	if unitEnv.Env["UNIT_VAR"] != "unit-value" || unitEnv.Env["X"] != "" {
		t.Errorf("cat units/sleeper/replicas/0/env: UNIT_VAR=%q X=%q", unitEnv.Env["UNIT_VAR"], unitEnv.Env["X"])
	}
	logs := mustRead(t, f, "/apps/shop/components/a.A/replicas/1/logs", tree.ReadOptions{})
	if s, ok := logs.Value.(string); !ok || !strings.Contains(s, "hello from a.A/1\n") || strings.Contains(s, "a.A/0") {
		t.Errorf("cat replicas/1/logs = %#v", logs.Value)
	}
	var st api.StartupStatus
	decode(t, mustRead(t, f, "/apps/shop/startup", tree.ReadOptions{}).Value, &st)
	if len(st.Units) != 3 {
		t.Errorf("cat startup: %+v", st)
	}
	var app api.AppStatus
	decode(t, mustRead(t, f, "/apps/shop", tree.ReadOptions{}).Value, &app)
	if app.StateDir != a.dir {
		t.Errorf("cat /apps/shop: %+v", app)
	}
	if _, err := f.Read(testContext(t), "/apps/shop/components", tree.ReadOptions{}); !errors.Is(err, tree.ErrNotSupported) {
		t.Errorf("cat components = %v, want ErrNotSupported", err)
	}
}
