package control

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type fakeBackend struct{ acted []string }

func (*fakeBackend) Status() *Status {
	return &Status{App: "shop", Units: []UnitStatus{{Name: "cart.Cart", State: Ready}}}
}

func (f *fakeBackend) Act(_ context.Context, op, name string) (*ActionResult, error) {
	if name == "nope" {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	f.acted = append(f.acted, op+" "+name)
	return &ActionResult{Op: op, Name: name, State: Stopped, Message: "done"}, nil
}

func (*fakeBackend) Analyze() []AnalyzeUnit {
	return []AnalyzeUnit{{Name: "cart.Cart", Start: time.Unix(1, 0), After: []string{"db"}}}
}

func tempDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "pc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestServerAndClient(t *testing.T) {
	dir := tempDir(t)
	b := &fakeBackend{}
	srv, err := Listen(dir, b)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	fi, err := os.Stat(filepath.Join(dir, SocketName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket: %v, %v", fi, err)
	}
	c := Dial(dir)
	defer c.Close()
	ctx := context.Background()
	st, err := c.Status(ctx)
	if err != nil || st.App != "shop" || st.Units[0].State != Ready {
		t.Fatalf("status: %+v, %v", st, err)
	}
	if _, err := c.Restart(ctx, "example.com/shop/cart.Cart"); err != nil {
		t.Fatal(err)
	}
	if len(b.acted) != 1 || b.acted[0] != "restart example.com/shop/cart.Cart" {
		t.Errorf("acted = %v", b.acted)
	}
	if _, err := c.Stop(ctx, "nope"); err == nil || err.Error() != `no such component or unit: "nope"` {
		t.Errorf("stop nope: %v", err)
	}
	u, err := c.Analyze(ctx)
	if err != nil || len(u) != 1 || u[0].After[0] != "db" || !u[0].Start.Equal(time.Unix(1, 0)) {
		t.Errorf("analyze: %+v, %v", u, err)
	}
}

func TestClientNoSupervisor(t *testing.T) {
	c := Dial(tempDir(t))
	defer c.Close()
	_, err := c.Status(context.Background())
	if err == nil || !strings.Contains(err.Error(), "cannot reach the supervisor") {
		t.Errorf("err = %v", err)
	}
}

func TestLockAndRunning(t *testing.T) {
	root := tempDir(t)
	t.Setenv(StateDirEnv, "")
	t.Setenv("XDG_STATE_HOME", root)
	dir, err := StateDir("shop")
	if err != nil || dir != filepath.Join(root, "pilotage", "shop") {
		t.Fatalf("StateDir = %q, %v", dir, err)
	}
	if _, err := FindStateDir(""); err == nil || !strings.Contains(err.Error(), "no app is running") {
		t.Errorf("FindStateDir with nothing running: %v", err)
	}
	f, err := Lock(dir, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("state dir mode %v", fi.Mode().Perm())
	}
	if _, err := Lock(dir, "shop"); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("app shop is already running (pid %d)", os.Getpid())) {
		t.Errorf("second lock: %v", err)
	}
	// Running needs the socket to list the app.
	if err := os.WriteFile(filepath.Join(dir, SocketName), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := FindStateDir(""); err != nil || got != dir {
		t.Errorf("FindStateDir = %q, %v", got, err)
	}
	if got, err := FindStateDir("shop"); err != nil || got != dir {
		t.Errorf("FindStateDir(shop) = %q, %v", got, err)
	}
	f.Close()
	if _, ok := Running(dir); ok {
		t.Error("still running after unlock")
	}
	if _, err := FindStateDir("shop"); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("FindStateDir after stop: %v", err)
	}
	if _, err := StateDir("../x"); err == nil {
		t.Error("StateDir accepted a path")
	}
}
