package supervisor

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/internal/config"
	"github.com/pilotage/pilotage/internal/graph"
)

func mustConfig(text string) *config.File {
	cfg, err := config.Parse("test.toml", text)
	if err != nil {
		panic(err)
	}
	return cfg
}

func mustDesc(s string) *graph.Graph {
	var d graph.Graph
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		panic(err)
	}
	return &d
}

// desc builds a Description from "name:ref1,ref2" items; a name starting
// with "*" is main; "name@listener" gives it a listener.
func desc(items ...string) *graph.Graph {
	d := &graph.Graph{}
	for _, it := range items {
		name, refs, _ := strings.Cut(it, ":")
		ci := graph.Component{Refs: []string{}, Listeners: []string{}}
		if strings.HasPrefix(name, "*") {
			ci.Main = true
			name = name[1:]
		}
		if n, l, ok := strings.Cut(name, "@"); ok {
			name = n
			ci.Listeners = []string{l}
		}
		ci.Name = "example.com/app/" + name
		for r := range strings.SplitSeq(refs, ",") {
			if r != "" {
				ci.Refs = append(ci.Refs, "example.com/app/"+r)
			}
		}
		d.Components = append(d.Components, ci)
	}
	return d
}

// syncBuffer collects a supervisor's output.
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

// stateDir returns a short temporary directory (Unix socket paths are
// limited to 108 bytes).
func stateDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

type harness struct {
	t    *testing.T
	s    *Supervisor
	out  *syncBuffer
	dir  string
	cl   *control.Client
	done chan error
	stop context.CancelFunc
}

// start runs a supervisor of d with cfg and the fake proclet settings env.
func start(t *testing.T, d *graph.Graph, cfg string, env ...string) *harness {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return launch(t, Options{App: "test", Binary: self, Config: mustConfig(cfg), Description: d, Env: env})
}

// launch runs a supervisor with opts, filling in the state directory
// (unless set), output and short stop timeouts.
func launch(t *testing.T, opts Options) *harness {
	t.Helper()
	h := &harness{t: t, out: &syncBuffer{}, dir: opts.StateDir, done: make(chan error, 1)}
	if h.dir == "" {
		h.dir = stateDir(t)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	opts.StateDir, opts.Stdout = h.dir, h.out
	opts.StopTimeout, opts.KillTimeout = 2*time.Second, time.Second
	var err error
	h.s, err = New(ctx, opts)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() { h.done <- h.s.Run(ctx) }()
	h.cl = control.Dial(h.dir)
	// The socket file appears at bind, a moment before listen: wait until
	// a connection is accepted.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if c, err := net.Dial("unix", filepath.Join(h.dir, control.SocketName)); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatal("no control socket after 5s")
		}
	}
	t.Cleanup(func() {
		h.shutdown()
		h.cl.Close()
		if t.Failed() {
			t.Logf("supervisor output:\n%s", h.output())
		}
	})
	return h
}

// shutdown stops the supervisor and waits for Run to return.
func (h *harness) shutdown() {
	h.t.Helper()
	h.stop()
	select {
	case err, ok := <-h.done:
		if ok && err != nil {
			h.t.Errorf("Run: %v", err)
		}
		if ok {
			close(h.done)
		}
	case <-time.After(15 * time.Second):
		h.t.Fatalf("supervisor did not stop within 15s")
	}
}

// waitReady waits for the whole app to be ready.
func (h *harness) waitReady() {
	h.t.Helper()
	select {
	case <-h.s.Ready():
	case err := <-h.done:
		h.t.Fatalf("Run returned before ready: %v", err)
	case <-time.After(10 * time.Second):
		h.t.Fatalf("app not ready within 10s; status: %s", h.statusJSON())
	}
}

func (h *harness) status() *control.Status {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := h.cl.Status(ctx)
	if err != nil {
		h.t.Fatalf("status: %v", err)
	}
	return st
}

func (h *harness) statusJSON() string {
	b, _ := json.MarshalIndent(h.s.Status(), "", "  ")
	return string(b)
}

// unit returns the status of the component or unit named name.
func (h *harness) unit(name string) control.UnitStatus {
	h.t.Helper()
	for _, u := range h.status().Units {
		if u.Name == name {
			return u
		}
	}
	h.t.Fatalf("no unit %s in status", name)
	return control.UnitStatus{}
}

// eventually polls cond until it holds or 10s pass.
func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s; status: %s", what, h.statusJSON())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// routes returns the supervisor's current routes of component short name.
func (h *harness) routes(short string) []string {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	return h.s.routes()["example.com/app/"+short]
}

func pids(u control.UnitStatus) []int {
	var out []int
	for _, r := range u.Replicas {
		out = append(out, r.PID)
	}
	return out
}

// output returns what the supervisor wrote so far, its own queued lines
// included.
func (h *harness) output() string {
	h.s.out.flush(time.Second)
	return h.out.String()
}
