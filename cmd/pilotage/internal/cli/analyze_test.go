package cli

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/controltest"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/state"
)

// startupBackend serves app shop whose startup is units.
func startupBackend(t *testing.T, dir string, units []api.StartupUnit) *controltest.Backend {
	t.Helper()
	b := controltest.New()
	if err := b.Set(api.KindApp, "/apps/shop", api.AppStatus{State: api.Ready, StateDir: dir}); err != nil {
		t.Fatal(err)
	}
	if err := b.Set(api.KindStartup, "/apps/shop/startup", api.StartupStatus{Units: units}); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAnalyzeCommand(t *testing.T) {
	root := stateHome(t)
	dir := filepath.Join(root, "shop")
	lock, err := state.Lock(dir, "shop")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	srv, err := control.Listen(dir, startupBackend(t, dir, []api.StartupUnit{
		{Name: "frontend", Start: ms(100), Ready: ms(150), After: []string{"redis"}},
		{Name: "redis", Start: ms(0), Ready: ms(90)},
	}), control.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	out, errs, code := run(t, "analyze", "critical-chain")
	if code != 0 || !strings.HasSuffix(out, "\n\nfrontend @150ms +50ms\n└─redis @90ms +90ms\n") {
		t.Errorf("critical-chain: %d %q %q", code, out, errs)
	}
	out, errs, code = run(t, "analyze", "blame", "shop")
	if code != 0 || out != "  90ms redis\n  50ms frontend\n" {
		t.Errorf("blame: %d %q %q", code, out, errs)
	}
	out, errs, code = run(t, "analyze", "-json", "blame")
	if code != 0 || !strings.Contains(out, `"name": "redis"`) {
		t.Errorf("-json: %d %q %q", code, out, errs)
	}
	_, errs, code = run(t, "analyze", "boot")
	if code != 1 || !strings.Contains(errs, `unknown analysis "boot"`) {
		t.Errorf("unknown: %d %q", code, errs)
	}
	_, errs, code = run(t, "analyze", "blame", "bank")
	if code != 1 || !strings.Contains(errs, "not running") {
		t.Errorf("not running: %d %q", code, errs)
	}
}
