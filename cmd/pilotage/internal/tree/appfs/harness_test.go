package appfs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/state"
	"github.com/pilotage/pilotage/internal/graph"
)

// startTimeout bounds the start of a test app: the machine is shared.
const startTimeout = 90 * time.Second

// A testApp is an app run by a supervisor process of the test binary.
type testApp struct {
	name    string
	root    string // the state root
	dir     string // its state directory
	workDir string // its processes' working directory
	cmd     *exec.Cmd
	out     *syncBuffer
	exited  chan struct{}
}

// appSpec says what app to run.
type appSpec struct {
	name   string
	desc   *graph.Graph // nil: binary's own
	binary string       // the app's binary, without desc
	config string       // pilotage.toml
	env    []string     // added to the proclets' environment
}

// syncBuffer collects a process's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// shortTemp returns a new short temporary directory (Unix socket paths
// are limited to 108 bytes); the caller removes it.
func shortTemp() (string, error) { return os.MkdirTemp("", "af") }

// launch starts spec's app with a state directory under root and waits
// until it is ready. It does not stop it: the caller does (stop).
func launch(root string, spec appSpec) (*testApp, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(root, "work")
	if err != nil {
		return nil, err
	}
	id, err := state.AppID(spec.name, work)
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(work, "pilotage.toml")
	if err := os.WriteFile(cfgPath, []byte(spec.config), 0o600); err != nil {
		return nil, err
	}
	var desc []byte
	if spec.desc != nil {
		if desc, err = json.Marshal(spec.desc); err != nil {
			return nil, err
		}
	}
	a := &testApp{name: spec.name, root: root, dir: filepath.Join(root, id), workDir: work, out: &syncBuffer{}, exited: make(chan struct{})}
	a.cmd = exec.Command(self)
	a.cmd.Env = append(os.Environ(), "APPFS_ROLE=supervisor", "APPFS_APP="+spec.name, "APPFS_STATE_DIR="+a.dir,
		"APPFS_CONFIG="+cfgPath, "APPFS_DESC="+string(desc), "APPFS_WORKDIR="+work, "APPFS_ENV="+strings.Join(spec.env, "\n"), "APPFS_BINARY="+spec.binary)
	a.cmd.Stdout, a.cmd.Stderr = a.out, a.out
	if err := a.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { a.cmd.Wait(); close(a.exited) }()
	if err := a.waitReady(); err != nil {
		a.stop()
		return nil, fmt.Errorf("%w; its output:\n%s", err, a.out.String())
	}
	return a, nil
}

// waitReady waits until the app's supervisor says it is ready.
func (a *testApp) waitReady() error {
	c := control.Dial(a.dir)
	defer c.Close()
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		r, err := c.Get(ctx, api.Join(api.Apps, a.name))
		cancel()
		if err == nil {
			var st api.AppStatus
			if err := r.DecodeStatus(&st); err == nil && st.State == api.Ready && st.Coordination != nil {
				return nil
			}
		}
		select {
		case <-a.exited:
			return fmt.Errorf("app %s: its supervisor exited", a.name)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("app %s not ready within %v (last: %v)", a.name, startTimeout, err)
		}
	}
}

// stop stops the supervisor (SIGTERM, then SIGKILL) and waits for it.
func (a *testApp) stop() {
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.exited:
	case <-time.After(30 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.exited
	}
}

// kill kills the supervisor with SIGKILL and waits for it.
func (a *testApp) kill() {
	_ = a.cmd.Process.Kill()
	<-a.exited
}

// startApp runs spec's app, in a state root of its own, for the test.
func startApp(t testing.TB, spec appSpec) *testApp {
	t.Helper()
	root, err := shortTemp()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	a, err := launch(root, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.stop()
		if t.Failed() {
			t.Logf("supervisor output:\n%s", a.out.String())
		}
	})
	return a
}

// The shared app most tests look at: "shop", whose components a.A (2
// replicas, a listener, a config section) and b.B (1 replica, two
// methods) run, and a unit "sleeper".
var (
	sharedOnce sync.Once
	sharedApp  *testApp
	sharedErr  error
	sharedRoot string
)

// sharedDesc is the description of the shared app.
func sharedDesc() *graph.Graph {
	return &graph.Graph{Components: []graph.Component{
		{Name: "example.com/shop/a.A", Refs: []string{"example.com/shop/b.B"}, Listeners: []string{"web"}},
		{Name: "example.com/shop/b.B", Refs: []string{}, Listeners: []string{}, Methods: []graph.Method{
			{Name: "Get", Params: []graph.Param{{Name: "id", Type: "string"}}, Results: []string{"Item"}},
			{Name: "Ping", Params: []graph.Param{}, Results: []string{}},
		}},
	}}
}

// shared returns the shared app, starting it the first time.
func shared(t testing.TB) *testApp {
	t.Helper()
	sharedOnce.Do(func() {
		if sharedRoot, sharedErr = shortTemp(); sharedErr != nil {
			return
		}
		self, err := os.Executable()
		if err != nil {
			sharedErr = err
			return
		}
		cfg := fmt.Sprintf(`
[run.components."a.A"]
replicas = 2

[run.components."b.B"]
replicas = 1

[components."a.A"]
greeting = "hello"
limits = { rate = 5 }

[units.sleeper]
command = %q
env = ["APPFS_ROLE=sleep", "UNIT_VAR=unit-value"]
`, self)
		sharedApp, sharedErr = launch(sharedRoot, appSpec{name: "shop", desc: sharedDesc(), config: cfg,
			env: []string{"X=x-value-42", "APPFS_TEST_VAR=1"}})
	})
	if sharedErr != nil {
		t.Fatalf("the shared app: %v", sharedErr)
	}
	return sharedApp
}

// stopShared stops the shared app, if it was started.
func stopShared() {
	if sharedApp != nil {
		sharedApp.stop()
	}
	if sharedRoot != "" {
		os.RemoveAll(sharedRoot)
	}
}

// newFS returns an FS of the apps under root, closed at the end of the
// test.
func newFS(t testing.TB, root string) *FS {
	t.Helper()
	f := New(Options{StateRoot: root})
	t.Cleanup(func() { f.Close() })
	return f
}

// testContext returns a context for one step of a test.
func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it holds, or fails the test after 30s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pause stops process pid with SIGSTOP and waits until every one of its
// threads stopped: the kernel wakes one thread to begin the stop, and the
// others run on until that one is scheduled, which on a loaded machine
// may be milliseconds later (long enough to answer a request).
func pause(t testing.TB, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	eventually(t, fmt.Sprintf("every thread of process %d to stop", pid), func() bool {
		stats, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
		if err != nil || len(stats) == 0 {
			return false
		}
		for _, p := range stats {
			b, err := os.ReadFile(p)
			if err != nil {
				return false
			}
			// The state follows the command, in parentheses that it may
			// contain itself.
			i := bytes.LastIndexByte(b, ')')
			if i < 0 || i+2 >= len(b) || b[i+2] != 'T' {
				return false
			}
		}
		return true
	})
}
