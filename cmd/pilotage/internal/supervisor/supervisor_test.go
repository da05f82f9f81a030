package supervisor

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/state"
)

// A component whose dependency is slow to become ready starts after it, the
// listener proxy serves the main component, and shutdown goes in reverse
// dependency order.
func TestStartOrderAndShutdownOrder(t *testing.T) {
	t.Parallel()
	d := desc("*main.Main@web:b.B", "b.B:a.A", "a.A")
	h := start(t, d, "[run]\nreplicas = 1\n[run.components.\"a.A\"]\nreplicas = 2\n", "FAKE_SLOW=a.A=400ms")
	h.waitReady()

	an := map[string]control.AnalyzeUnit{}
	units, err := h.cl.Analyze(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range units {
		an[u.Name] = u
	}
	a, b, m := an["a.A"], an["b.B"], an["main.Main"]
	if a.Ready.Sub(a.Start) < 400*time.Millisecond {
		t.Errorf("a.A ready %v after its start, want >= 400ms", a.Ready.Sub(a.Start))
	}
	if b.Start.Before(a.Ready) {
		t.Errorf("b.B started at %v, before a.A was ready at %v", b.Start, a.Ready)
	}
	if m.Start.Before(b.Ready) {
		t.Errorf("main started at %v, before b.B was ready at %v", m.Start, b.Ready)
	}
	if !slices.Equal(b.After, []string{"a.A"}) {
		t.Errorf("b.B after = %v, want [a.A]", b.After)
	}

	st := h.status()
	if len(st.Proxies) != 1 || st.Proxies[0].Listener != "web" {
		t.Fatalf("proxies = %+v", st.Proxies)
	}
	resp, err := http.Get("http://" + st.Proxies[0].Address + "/")
	if err != nil {
		t.Fatalf("GET through the proxy: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(body), "main.Main/0 pid ") {
		t.Errorf("proxy answered %q", body)
	}
	out := h.output()
	for _, want := range []string{"web: http://" + st.Proxies[0].Address, "app ready in "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if !hasLine(out, "a.A/1", "ready a.A replica 1") {
		t.Errorf("output lacks a prefixed line of a.A/1")
	}

	h.shutdown()
	out = h.output()
	iMain := lineIndex(out, "pilotage", "main.Main/0 stopped")
	iB := lineIndex(out, "pilotage", "b.B/0 stopped")
	iA := min(lineIndex(out, "pilotage", "a.A/0 stopped"), lineIndex(out, "pilotage", "a.A/1 stopped"))
	if iMain < 0 || iB < 0 || iA < 0 || !(iMain < iB && iB < iA) {
		t.Errorf("stop order: main at %d, b at %d, a at %d; want main < b < a\n%s", iMain, iB, iA, out)
	}
}

// A unit whose readiness probe fails blocks its dependents, and the status
// says why; once the probe passes they start.
func TestUnitProbeBlocksDependents(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	self, _ := os.Executable()
	cfg := "[run]\nreplicas = 1\n[units.db]\ncommand = \"" + self + "\"\nenv = [\"FAKE_ROLE=sleep\"]\nrequired_by = [\"cart.Cart\"]\n[units.db.ready]\ntcp = \"" + addr + "\"\ninterval = \"50ms\"\n"
	h := start(t, desc("*main.Main:cart.Cart", "cart.Cart"), cfg)

	h.eventually("the probe to fail", func() bool { return strings.Contains(h.unit("db").Why, "connection refused") })
	cart := h.unit("cart.Cart")
	want := "waiting for unit db: probe tcp " + addr + ": connection refused"
	if cart.State != control.Starting || cart.Why != want {
		t.Errorf("cart: state %q why %q; want starting, %q", cart.State, cart.Why, want)
	}
	if cart.Replicas[0].PID != 0 {
		t.Errorf("cart started (pid %d) before its unit was ready", cart.Replicas[0].PID)
	}
	if db := h.unit("db"); db.State != control.Starting || db.Replicas[0].PID == 0 {
		t.Errorf("db: state %q pid %d; want starting with a process", db.State, db.Replicas[0].PID)
	}
	if m := h.unit("main.Main"); !strings.HasPrefix(m.Why, "waiting for component cart.Cart: waiting for unit db") {
		t.Errorf("main why = %q", m.Why)
	}

	ln := listenOn(t, addr) // the probe passes
	defer ln.Close()
	h.waitReady()
	// The probe passes on the test's listener, maybe before the unit wrote
	// its line: wait for it.
	h.eventually("the unit's output, prefixed", func() bool { return hasLine(h.output(), "db", "unit sleeping") })
}

// A replica killed with SIGKILL is restarted with a new pid; routes drop it
// and take it back.
func TestKilledReplicaRestarts(t *testing.T) {
	t.Parallel()
	h := start(t, desc("*main.Main:b.B", "b.B"), "[run]\nreplicas = 1\n[run.components.\"b.B\"]\nreplicas = 2\n", "FAKE_SLOW=b.B=300ms")
	h.waitReady()
	before := h.unit("b.B")
	mainPID := h.unit("main.Main").Replicas[0].PID
	victim := before.Replicas[0].PID
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	h.eventually("the replica to be back", func() bool {
		u := h.unit("b.B")
		return u.State == control.Ready && u.Replicas[0].PID != 0 && u.Replicas[0].PID != victim
	})
	after := h.unit("b.B")
	if after.Restarts != 1 || after.Replicas[0].Restarts != 1 {
		t.Errorf("restarts = %d (replica %d), want 1", after.Restarts, after.Replicas[0].Restarts)
	}
	if after.Replicas[1].PID != before.Replicas[1].PID {
		t.Errorf("the other replica changed: pid %d -> %d", before.Replicas[1].PID, after.Replicas[1].PID)
	}
	if got := h.unit("main.Main").Replicas[0].PID; got != mainPID {
		t.Errorf("main changed: pid %d -> %d", mainPID, got)
	}
	if r := h.routes("b.B"); len(r) != 2 {
		t.Errorf("routes of b.B = %v, want 2 addresses", r)
	}
	// main's proclet saw b.B go down to one replica and come back.
	h.eventually("main to see both routes", func() bool {
		out := h.output()
		i := lineIndex(out, "main.Main/0", "routes b.B=1")
		return i >= 0 && hasLine(strings.Join(strings.Split(out, "\n")[i:], "\n"), "main.Main/0", "routes b.B=2")
	})
	if out := h.output(); strings.Count(out, "| starting b.B replica 0") != 2 || !strings.Contains(out, "killed by signal killed") {
		t.Errorf("output lacks the restart:\n%s", out)
	}
}

// A replica that keeps crashing hits the start limit: its component, of
// one replica, is marked failed, visibly, and its dependents say why they
// wait. A start clears the failure and runs it again at once.
func TestStartLimit(t *testing.T) {
	t.Parallel()
	h := start(t, desc("*main.Main:c.C", "c.C"), "[run]\nreplicas = 1\nstart_limit = 3\n", "FAKE_CRASH=c.C")
	h.eventually("c.C to fail", func() bool { return h.unit("c.C").State == control.Failed })
	c := h.unit("c.C")
	if c.Restarts != 3 {
		t.Errorf("restarts = %d, want 3", c.Restarts)
	}
	if !strings.Contains(c.Why, "start limit hit: 3 restarts within 30s") || !strings.Contains(c.Why, "exited with status 3: boom") {
		t.Errorf("why = %q", c.Why)
	}
	if m := h.unit("main.Main"); m.Why != "waiting for component c.C (failed)" {
		t.Errorf("main why = %q", m.Why)
	}
	if !strings.Contains(h.output(), "component c.C failed: ") {
		t.Errorf("no failure line in output:\n%s", h.output())
	}
	// start clears the failure; it fails again.
	res, err := h.cl.Start(context.Background(), "c.C")
	if err != nil {
		t.Fatal(err)
	}
	if res.State != control.Failed || !res.Settled {
		t.Errorf("start: %+v", res)
	}
	if !strings.Contains(h.output(), "(restart 4 of this replica)") {
		t.Errorf("start did not run c.C again:\n%s", h.output())
	}
	// Stopping a failed component does what was asked: it is stopped.
	res, err = h.cl.Stop(context.Background(), "c.C")
	if err != nil || res.State != control.Stopped || !res.Settled {
		t.Errorf("stop of a failed component: %+v, %v", res, err)
	}
}

// Stopping one component through the control API empties its routes and
// leaves the others alone; starting it brings the routes back.
func TestStopStartComponent(t *testing.T) {
	t.Parallel()
	h := start(t, desc("*main.Main:b.B,a.A", "b.B", "a.A"), "[run]\nreplicas = 2\n")
	h.waitReady()
	pidsBefore := map[string][]int{}
	for _, u := range h.status().Units {
		pidsBefore[u.Name] = pids(u)
	}
	res, err := h.cl.Stop(context.Background(), "example.com/app/b.B")
	if err != nil {
		t.Fatal(err)
	}
	if res.State != control.Stopped || res.Group != "b.B" {
		t.Errorf("stop: %+v", res)
	}
	if r := h.routes("b.B"); r == nil || len(r) != 0 {
		t.Errorf("routes of stopped b.B = %#v, want an empty list", r)
	}
	if u := h.unit("b.B"); u.State != control.Stopped || u.Replicas[0].PID != 0 {
		t.Errorf("b.B: %+v", u)
	}
	for _, name := range []string{"a.A", "main.Main"} {
		if got := pids(h.unit(name)); !slices.Equal(got, pidsBefore[name]) {
			t.Errorf("%s pids %v -> %v", name, pidsBefore[name], got)
		}
	}
	h.eventually("main to see b.B gone", func() bool { return hasLine(h.output(), "main.Main/1", "routes a.A=2 b.B=0") })

	res, err = h.cl.Start(context.Background(), "b.B")
	if err != nil {
		t.Fatal(err)
	}
	if res.State != control.Ready {
		t.Errorf("start: %+v", res)
	}
	if r := h.routes("b.B"); len(r) != 2 {
		t.Errorf("routes of b.B = %v, want 2", r)
	}
	if got := pids(h.unit("b.B")); slices.Equal(got, pidsBefore["b.B"]) || slices.Contains(got, 0) {
		t.Errorf("b.B pids %v -> %v, want new ones", pidsBefore["b.B"], got)
	}
	if _, err := h.cl.Stop(context.Background(), "nope.Nope"); err == nil || !strings.Contains(err.Error(), "no such component or unit") {
		t.Errorf("stop of an unknown component: %v", err)
	}
}

// A restart of a colocated component acts on its group and says so; a
// replica that ignores Stop and SIGTERM is killed.
func TestRestartColocatedGroup(t *testing.T) {
	t.Parallel()
	h := start(t, desc("*main.Main:b.B", "b.B:a.A", "a.A"), "[run]\nreplicas = 1\ncolocate = [[\"a.A\", \"b.B\"]]\n", "FAKE_STUBBORN=a.A+b.B")
	h.s.opts.StopTimeout = 200 * time.Millisecond
	h.s.opts.KillTimeout = 200 * time.Millisecond
	h.waitReady()
	old := h.unit("a.A").Replicas[0].PID
	res, err := h.cl.Restart(context.Background(), "a.A")
	if err != nil {
		t.Fatal(err)
	}
	if res.Group != "a.A+b.B" || !strings.Contains(res.Message, "colocated group a.A+b.B: also b.B") || res.State != control.Ready {
		t.Errorf("restart: %+v", res)
	}
	if got := h.unit("b.B").Replicas[0].PID; got == old || got == 0 {
		t.Errorf("pid %d -> %d, want a new one", old, got)
	}
	if !strings.Contains(h.output(), "a.A+b.B/0 did not stop within 200ms of SIGTERM; killing it") {
		t.Errorf("no kill line:\n%s", h.output())
	}
}

// A second supervisor of the same app is refused with a clear message; the
// state directory and control socket are private.
func TestSecondInstanceRefused(t *testing.T) {
	t.Parallel()
	h := start(t, desc("*main.Main"), "[run]\nreplicas = 1\n")
	h.waitReady()
	self, _ := os.Executable()
	s2, err := New(context.Background(), Options{App: "test", Binary: self, StateDir: h.dir, Description: desc("*main.Main")})
	if err != nil {
		t.Fatal(err)
	}
	err = s2.Run(context.Background())
	want := "app test is already running (pid " + itoa(os.Getpid()) + "); stop it with Ctrl-C in its terminal or `kill " + itoa(os.Getpid()) + "`"
	if err == nil || err.Error() != want {
		t.Errorf("second Run: %v\nwant %s", err, want)
	}
	for path, mode := range map[string]os.FileMode{h.dir: 0o700, filepath.Join(h.dir, control.SocketName): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), mode)
		}
	}
	if pid, ok := state.Running(h.dir); !ok || pid != os.Getpid() {
		t.Errorf("Running = %d, %v", pid, ok)
	}
}

// restart_dependents on a component makes its restart, asked for or after a
// crash, restart the components that depend on it, and only those.
func TestRestartDependents(t *testing.T) {
	t.Parallel()
	h := start(t, desc("*main.Main:a.A,b.B", "a.A", "b.B"),
		"[run]\nreplicas = 1\n[run.components.\"a.A\"]\nrestart_dependents = true\n")
	h.waitReady()
	before := map[string][]int{}
	for _, u := range h.status().Units {
		before[u.Name] = pids(u)
	}
	res, err := h.cl.Restart(context.Background(), "a.A")
	if err != nil || res.State != control.Ready {
		t.Fatalf("restart a.A: %+v, %v", res, err)
	}
	h.eventually("main to be restarted and ready", func() bool {
		u := h.unit("main.Main")
		return u.State == control.Ready && !slices.Equal(pids(u), before["main.Main"])
	})
	if got := pids(h.unit("b.B")); !slices.Equal(got, before["b.B"]) {
		t.Errorf("b.B, which does not depend on a.A, was restarted: %v -> %v", before["b.B"], got)
	}

	// A crash of a.A restarts main too.
	mainPIDs := pids(h.unit("main.Main"))
	if err := syscall.Kill(pids(h.unit("a.A"))[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	h.eventually("main to be restarted after a.A crashed", func() bool {
		u := h.unit("main.Main")
		return u.State == control.Ready && !slices.Equal(pids(u), mainPIDs)
	})
}

// A main replica stopped by SIGTERM (which a proclet answers by exiting 0)
// is restarted: only AppDone says that the app function returned.
func TestMainSIGTERMRestarts(t *testing.T) {
	t.Parallel()
	h := start(t, desc("*main.Main"), "[run]\nreplicas = 1\n")
	h.waitReady()
	victim := h.unit("main.Main").Replicas[0].PID
	if err := syscall.Kill(victim, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	h.eventually("main to be back", func() bool {
		u := h.unit("main.Main")
		return u.State == control.Ready && u.Replicas[0].PID != 0 && u.Replicas[0].PID != victim
	})
	select {
	case err := <-h.done:
		t.Fatalf("Run returned after a SIGTERM'd main replica: %v", err)
	default:
	}
}

// When the app function returns (AppDone) in every main replica, the app
// stops; a main replica that returned shows as stopped.
func TestMainReturns(t *testing.T) {
	t.Parallel()
	h := start(t, desc("*main.Main"), "[run]\nreplicas = 2\n", "FAKE_RETURN=main.Main=0s")
	select {
	case err := <-h.done:
		close(h.done)
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("Run did not return once the app function returned; status: %s", h.statusJSON())
	}
	if !strings.Contains(h.output(), "the main component returned; stopping test") {
		t.Errorf("output:\n%s", h.output())
	}
	st := h.s.Status()
	for _, r := range st.Units[0].Replicas {
		if r.State != control.Stopped {
			t.Errorf("main replica %d: %s", r.Index, r.State)
		}
	}
}

// A unit that exits 0 under restart = "on-failure" (the default) is done:
// it does not keep the app from being ready, says why it stopped, and can
// be started again. One that exits 1 under restart = "no" is failed, with
// the reason, and blocks what depends on it.
func TestUnitExitsForGood(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	cfg := "[run]\nreplicas = 1\n" +
		"[units.once]\ncommand = \"sh\"\nargs = [\"-c\", \"echo ran once\"]\n" +
		"[units.broken]\ncommand = \"sh\"\nargs = [\"-c\", \"exit 1\"]\nrestart = \"no\"\nrequired_by = [\"b.B\"]\n" +
		"[units.broken.ready]\ntcp = \"" + addr + "\"\ninterval = \"20ms\"\n"
	h := start(t, desc("*main.Main", "b.B"), cfg)
	h.eventually("once to be done and broken failed", func() bool {
		return h.unit("once").State == control.Stopped && h.unit("broken").State == control.Failed
	})
	if why := h.unit("once").Why; !strings.Contains(why, "exited with status 0") || !strings.Contains(why, `(restart = "on-failure")`) {
		t.Errorf("once why = %q", why)
	}
	if why := h.unit("broken").Why; !strings.Contains(why, "exited with status 1") || !strings.Contains(why, `(restart = "no")`) {
		t.Errorf("broken why = %q", why)
	}
	if why := h.unit("b.B").Why; why != "waiting for unit broken (failed)" {
		t.Errorf("b.B why = %q", why)
	}
	select {
	case <-h.s.Ready():
		t.Error("the app is ready though b.B cannot start")
	default:
	}
	// once can be started again: it runs again.
	res, err := h.cl.Start(context.Background(), "once")
	if err != nil || (res.State != control.Stopped && res.State != control.Ready) {
		t.Fatalf("start once: %+v, %v", res, err)
	}
	h.eventually("once to run twice", func() bool { return strings.Count(h.output(), "| ran once") == 2 })
	// Once broken works, everything is ready.
	h.s.mu.Lock()
	h.s.byName["broken"].Unit.Args = []string{"-c", "exec sleep 300"}
	h.s.mu.Unlock()
	ln := listenOn(t, addr)
	defer ln.Close()
	if res, err := h.cl.Start(context.Background(), "broken"); err != nil || res.State != control.Ready {
		t.Fatalf("start broken: %+v, %v", res, err)
	}
	h.waitReady()
}

// restart_dependents does not revive a dependent that was stopped, and a
// crash of one replica while another serves does not restart dependents;
// once no replica is left, it does.
func TestRestartDependentsSkipsStoppedAndPartialCrash(t *testing.T) {
	t.Parallel()
	h := start(t, desc("*main.Main:a.A", "a.A", "c.C:a.A"),
		"[run]\nreplicas = 1\n[run.components.\"a.A\"]\nreplicas = 2\nrestart_dependents = true\n")
	h.waitReady()
	if res, err := h.cl.Stop(context.Background(), "c.C"); err != nil || res.State != control.Stopped {
		t.Fatalf("stop c.C: %+v, %v", res, err)
	}
	if res, err := h.cl.Restart(context.Background(), "a.A"); err != nil || res.State != control.Ready {
		t.Fatalf("restart a.A: %+v, %v", res, err)
	}
	// restart_dependents decides, with the lock held, as the restart is
	// asked for: once Restart returned, a revival of c.C would be under way.
	if u := h.unit("c.C"); u.State != control.Stopped || u.Replicas[0].PID != 0 || strings.Contains(h.output(), "restarting component c.C") {
		t.Errorf("stopped c.C was revived by restart_dependents: %+v", u)
	}
	h.eventually("main ready", func() bool { return h.unit("main.Main").State == control.Ready })
	mainPID := h.unit("main.Main").Replicas[0].PID
	a := h.unit("a.A")
	if err := syscall.Kill(a.Replicas[0].PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	h.eventually("a.A/0 back", func() bool {
		u := h.unit("a.A")
		return u.State == control.Ready && u.Replicas[0].PID != a.Replicas[0].PID
	})
	if got := h.unit("main.Main").Replicas[0].PID; got != mainPID {
		t.Errorf("main restarted (pid %d -> %d) though a.A/1 kept serving", mainPID, got)
	}
	a = h.unit("a.A")
	for _, r := range a.Replicas {
		_ = syscall.Kill(r.PID, syscall.SIGKILL)
	}
	h.eventually("main to be restarted once a.A had no replica", func() bool {
		u := h.unit("main.Main")
		return u.State == control.Ready && u.Replicas[0].PID != mainPID
	})
}

// A state directory that exists is used as it is: its mode is kept, and of
// its sock/ folder only the sockets (left by an earlier run) are removed.
func TestExistingStateDirKept(t *testing.T) {
	t.Parallel()
	dir := stateDir(t)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	if err := os.Mkdir(sock, 0o700); err != nil {
		t.Fatal(err)
	}
	keep := filepath.Join(sock, "keep.txt")
	if err := os.WriteFile(keep, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(sock, "stale.sock"), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	self, _ := os.Executable()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := New(ctx, Options{App: "test", Binary: self, StateDir: dir, Description: desc("*main.Main"), Config: mustConfig("[run]\nreplicas = 1\n")})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("not ready")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o755 {
		t.Errorf("state dir mode changed to %v", fi.Mode().Perm())
	}
	if b, err := os.ReadFile(keep); err != nil || string(b) != "mine" {
		t.Errorf("a file of the user's in sock/: %q, %v", b, err)
	}
	if _, err := os.Lstat(filepath.Join(sock, "stale.sock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale socket kept: %v", err)
	}
}

// An exec probe runs in the unit's directory and environment, and an
// attempt may take longer than the interval (and than 1s).
func TestExecProbeInUnitDirAndEnv(t *testing.T) {
	t.Parallel()
	dir := stateDir(t)
	if err := os.WriteFile(filepath.Join(dir, "marker"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	self, _ := os.Executable()
	cfg := "[run]\nreplicas = 1\n[units.db]\ncommand = \"" + self + "\"\ndir = \"" + dir + "\"\nenv = [\"FAKE_ROLE=sleep\", \"PROBE_X=1\"]\n" +
		"[units.db.ready]\nexec = [\"sh\", \"-c\", \"sleep 1.2; test -f marker && test \\\"$PROBE_X\\\" = 1\"]\ninterval = \"50ms\"\n"
	h := start(t, desc("*main.Main"), cfg)
	h.waitReady()
	if db := h.unit("db"); db.State != control.Ready {
		t.Errorf("db: %+v", db)
	}
}

// A unit with restart = "no" whose probe times out is failed with that
// reason, not with the signal that stopped it.
func TestProbeTimeoutReasonKept(t *testing.T) {
	t.Parallel()
	self, _ := os.Executable()
	cfg := "[run]\nreplicas = 1\n[units.db]\ncommand = \"" + self + "\"\nenv = [\"FAKE_ROLE=sleep\"]\nrestart = \"no\"\n" +
		"[units.db.ready]\ntcp = \"" + freeAddr(t) + "\"\ninterval = \"20ms\"\ntimeout = \"200ms\"\n"
	h := start(t, desc("*main.Main"), cfg)
	h.eventually("db to fail", func() bool { return h.unit("db").State == control.Failed })
	if why := h.unit("db").Why; !strings.HasPrefix(why, "not ready after 200ms: probe tcp ") || !strings.Contains(why, `(restart = "no")`) {
		t.Errorf("why = %q", why)
	}
}

// blockedWriter blocks every write until released.
type blockedWriter struct {
	release chan struct{}
	buf     syncBuffer
}

func (w *blockedWriter) Write(p []byte) (int, error) {
	<-w.release
	return w.buf.Write(p)
}

// A terminal that does not take output does not stall the supervisor: its
// own lines are queued, then dropped and counted; the control API answers.
func TestBlockedOutputDoesNotStall(t *testing.T) {
	t.Parallel()
	w := &blockedWriter{release: make(chan struct{})}
	o := newOutput(w, nil, false, nil, 10)
	done := make(chan struct{})
	go func() {
		for i := range 3 * terminalQueue { // more than the queue and the write buffer hold
			o.logf("line %d", i)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("logf blocked on a blocked terminal")
	}
	close(w.release)
	o.close()
	out := w.buf.String()
	if !strings.Contains(out, "lines not shown here: the terminal did not keep up; `pilotage logs` has them all)") || !strings.Contains(out, "| line 0\n") {
		t.Errorf("output:\n%.500s", out)
	}
}

// A child's line longer than the limit is passed on in pieces, none longer
// than the limit.
func TestLongLineSplit(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	o := newOutput(&buf, nil, false, nil, 1)
	long := strings.Repeat("x", maxLineBytes*2+10)
	o.pump("src", strings.NewReader(long+"\nshort\n"))
	o.close()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4", len(lines))
	}
	total := 0
	for _, l := range lines[:3] {
		_, text, _ := strings.Cut(l, " | ")
		if len(text) > maxLineBytes {
			t.Errorf("a line of %d bytes", len(text))
		}
		total += len(text)
	}
	if total != len(long) || !strings.HasSuffix(lines[3], "| short") {
		t.Errorf("total %d, want %d; last %q", total, len(long), lines[3])
	}
}
