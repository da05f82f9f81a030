package supervisor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/state"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/logstore"
)

// hasProblem reports whether a problem of st contains text.
func hasProblem(st *control.Status, text string) bool {
	for _, p := range st.Problems {
		if strings.Contains(p, text) {
			return true
		}
	}
	return false
}

// Removing the state directory of a running app is said and repaired: the
// control socket answers again, a killed replica is restarted (its socket
// can be created), and the lock keeps a second supervisor out.
func TestStateDirRemovedWhileRunning(t *testing.T) {
	t.Parallel()
	h := start(t, desc("*main.Main:a.A", "a.A"), "[run]\nreplicas = 1\n")
	h.waitReady()
	victim := h.unit("a.A").Replicas[0].PID
	if err := os.RemoveAll(h.dir); err != nil {
		t.Fatal(err)
	}
	var st *control.Status
	h.eventually("the control API to answer with the problem", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		var err error
		st, err = h.cl.Status(ctx)
		return err == nil && hasProblem(st, "recreated in "+h.dir)
	})
	if !hasProblem(st, "the state directory "+h.dir+" was removed") {
		t.Errorf("problems: %q", st.Problems)
	}
	out := h.output()
	for _, want := range []string{"the state directory " + h.dir + " was removed", "recreated in " + h.dir + ": the lock, the control socket and the sockets directory"} {
		if !hasLine(out, supervisorSource, want) {
			t.Errorf("no supervisor line saying %q", want)
		}
	}
	if _, err := state.Lock(h.dir, "test"); err == nil || !strings.Contains(err.Error(), "app test is already running (pid "+itoa(os.Getpid())+")") {
		t.Errorf("second lock: %v", err)
	}
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	h.eventually("a.A restarted", func() bool {
		r := h.unit("a.A").Replicas[0]
		return r.State == control.Ready && r.PID != 0 && r.PID != victim
	})
}

// newWatched makes a supervisor (not run) of state directory dir, with its
// logs in dir/logs, and a watch holding lock: what Run does, checked by
// hand.
func newWatched(t *testing.T, dir, binary string, lock *os.File) (*Supervisor, *stateWatch, *syncBuffer, *logstore.Store) {
	t.Helper()
	logs, err := logstore.Open(filepath.Join(dir, "logs"), logstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	s, err := New(context.Background(), Options{App: "test", Binary: binary, StateDir: dir, Description: desc("*main.Main"), Stdout: out, Logs: logs})
	if err != nil {
		t.Fatal(err)
	}
	w := newStateWatch(s, lock)
	if err := w.listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Errorf("close the watch: %v", err)
		}
		s.out.close()
		logs.Close()
	})
	return s, w, out, logs
}

// While another supervisor holds the lock of the recreated directory, the
// watch says so and leaves the directory alone; once it is gone, the watch
// takes the lock back and recreates the rest: app.json, the binary built
// there, the control socket, the sockets directory and the logs.
func TestStateWatchOtherSupervisor(t *testing.T) {
	t.Parallel()
	dir := stateDir(t)
	lock, err := state.Lock(dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := state.WriteAppInfo(dir, state.AppInfo{Name: "test", Dir: "/src/test"}); err != nil {
		t.Fatal(err)
	}
	binary := filepath.Join(dir, "bin", "test") // as built by pilotage run; never run here
	if err := os.MkdirAll(filepath.Dir(binary), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(binary, []byte("#!/bin/false\n"), 0o750); err != nil {
		t.Fatal(err)
	}
	s, w, out, _ := newWatched(t, dir, binary, lock)
	s.out.logf("before")

	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	other, err := state.Lock(dir, "other")
	if err != nil {
		t.Fatal(err)
	}
	w.check()
	s.out.flush(time.Second)
	want := "another supervisor (pid " + itoa(os.Getpid()) + ") holds the lock of " + dir + " now"
	if !hasLine(out.String(), supervisorSource, want) {
		t.Errorf("no supervisor line saying %q in:\n%s", want, out.String())
	}
	if st := (watchedBackend{s, w}).Status(); !hasProblem(st, want) {
		t.Errorf("problems: %q", st.Problems)
	}
	for _, name := range []string{control.SocketName, state.AppFile, "bin", "sock", "logs"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			t.Errorf("%s made in the other supervisor's directory", name)
		}
	}

	other.Close()
	// A child forked by a parallel test may hold the lock until it execs.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, running := state.Running(dir); !running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the other lock still held after 5s")
		}
	}
	w.check()
	s.out.logf("after")
	s.out.flush(time.Second)
	if want := "recreated in " + dir + ": the lock, app.json, the app's binary, the control socket, the sockets directory and the logs directory"; !hasLine(out.String(), supervisorSource, want) {
		t.Errorf("no supervisor line saying %q in:\n%s", want, out.String())
	}
	c := control.Dial(dir)
	defer c.Close()
	st, err := c.Status(context.Background())
	if err != nil || len(st.Problems) < 3 {
		t.Errorf("status: %+v, %v", st, err)
	}
	if info, err := state.ReadAppInfo(dir); err != nil || info.Dir != "/src/test" || info.PID != os.Getpid() {
		t.Errorf("app.json: %+v, %v", info, err)
	}
	if fi, err := os.Stat(binary); err != nil || fi.Mode().Perm() != 0o750 || fi.Size() != int64(len("#!/bin/false\n")) {
		t.Errorf("binary: %v, %v", fi, err)
	}
	if _, err := state.Lock(dir, "other"); err == nil || !strings.Contains(err.Error(), "in use by app test") {
		t.Errorf("lock of another app: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "logs", "pilotage.log"))
	if err != nil || !strings.Contains(string(b), "\tafter\n") || strings.Contains(string(b), "\tbefore\n") {
		t.Errorf("logs: %q, %v", b, err)
	}
}
