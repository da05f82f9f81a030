package control

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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
	dir, err := StateDir("shop", "/src/shop")
	if err != nil || filepath.Dir(dir) != filepath.Join(root, "pilotage") || !strings.HasPrefix(filepath.Base(dir), "shop-") {
		t.Fatalf("StateDir = %q, %v", dir, err)
	}
	if _, err := Find(Query{}); err == nil || !strings.Contains(err.Error(), "no app is running") {
		t.Errorf("Find with nothing running: %v", err)
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
	if a, err := Find(Query{}); err != nil || a.StateDir != dir || !a.Running || a.PID != os.Getpid() {
		t.Errorf("Find = %+v, %v", a, err)
	}
	if a, err := Find(Query{App: "shop"}); err != nil || a.StateDir != dir {
		t.Errorf("Find(shop) = %+v, %v", a, err)
	}
	f.Close()
	if _, ok := Running(dir); ok {
		t.Error("still running after unlock")
	}
	if _, err := Find(Query{App: "shop"}); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("Find after stop: %v", err)
	}
	if _, err := StateDir("../x", "/src/x"); err == nil {
		t.Error("StateDir accepted a path")
	}
}

// blockingBackend's Act never settles: it returns when ctx is done.
type blockingBackend struct{ fakeBackend }

func (*blockingBackend) Act(ctx context.Context, op, name string) (*ActionResult, error) {
	<-ctx.Done()
	return &ActionResult{Op: op, Name: name, State: Starting, Message: "unit x: still starting"}, nil
}

// The server stops waiting a little before the client's deadline, so the
// client gets an answer saying the action has not settled.
func TestActionWaitLimit(t *testing.T) {
	dir := tempDir(t)
	srv, err := Listen(dir, &blockingBackend{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := Dial(dir)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	t0 := time.Now()
	res, err := c.Start(ctx, "x")
	if err != nil {
		t.Fatalf("start: %v (after %v)", err, time.Since(t0))
	}
	if res.Settled || res.Message != "unit x: still starting" {
		t.Errorf("result: %+v", res)
	}
	if d := time.Since(t0); d > 2500*time.Millisecond {
		t.Errorf("answered after %v, want about 1s", d)
	}
	// Without a deadline, the server's default applies; a bad wait is refused.
	resp, err := c.http.Post("http://pilotage/v1/units/x/start?wait=soon", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("wait=soon: %s", resp.Status)
	}
}

// An existing state directory is used as it is: not chmod'ed, its files
// kept. One that others can write to, or that is not a directory, is
// refused.
func TestLockExistingDir(t *testing.T) {
	dir := filepath.Join(tempDir(t), "mine")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Lock(dir, "shop")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o755 {
		t.Errorf("mode changed to %v", fi.Mode().Perm())
	}
	if b, err := os.ReadFile(filepath.Join(dir, "notes.txt")); err != nil || string(b) != "keep" {
		t.Errorf("notes.txt: %q, %v", b, err)
	}
	open := filepath.Join(tempDir(t), "open")
	os.Mkdir(open, 0o777)
	os.Chmod(open, 0o777)
	if _, err := Lock(open, "shop"); err == nil || !strings.Contains(err.Error(), "writable by others") {
		t.Errorf("world-writable dir: %v", err)
	}
	file := filepath.Join(tempDir(t), "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := Lock(file, "shop"); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("file: %v", err)
	}
}

// The lock names the app holding it; a status probe (an instant shared
// lock) does not make a starting run fail; an app name that does not
// match the app running in $PILOTAGE_STATE_DIR is reported.
func TestLockHolder(t *testing.T) {
	dir := tempDir(t)
	t.Setenv(StateDirEnv, dir)
	f, err := os.OpenFile(filepath.Join(dir, LockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
		t.Fatal(err)
	}
	go func() { time.Sleep(50 * time.Millisecond); f.Close() }()
	lock, err := Lock(dir, "shop")
	if err != nil {
		t.Fatalf("Lock while a probe holds a shared lock: %v", err)
	}
	defer lock.Close()
	if _, err := Lock(dir, "bank"); err == nil || !strings.Contains(err.Error(), "in use by app shop (pid ") {
		t.Errorf("lock of another app: %v", err)
	}
	if a, err := Find(Query{App: "shop"}); err != nil || a.StateDir != dir {
		t.Errorf("Find(shop) = %+v, %v", a, err)
	}
	if _, err := Find(Query{App: "bank"}); err == nil || !strings.Contains(err.Error(), "app bank is not running in "+dir+": app shop is") {
		t.Errorf("Find(bank): %v", err)
	}
}
