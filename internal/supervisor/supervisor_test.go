package supervisor

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pilotage/pilotage/internal/control"
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
	out := h.out.String()
	for _, want := range []string{"web: http://" + st.Proxies[0].Address, "app ready in "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if !hasLine(out, "a.A/1", "ready a.A replica 1") {
		t.Errorf("output lacks a prefixed line of a.A/1")
	}

	h.shutdown()
	out = h.out.String()
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
	if !hasLine(h.out.String(), "db", "unit sleeping") {
		t.Errorf("unit output not prefixed:\n%s", h.out.String())
	}
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
		out := h.out.String()
		i := lineIndex(out, "main.Main/0", "routes b.B=1")
		return i >= 0 && hasLine(strings.Join(strings.Split(out, "\n")[i:], "\n"), "main.Main/0", "routes b.B=2")
	})
	if out := h.out.String(); strings.Count(out, "| starting b.B replica 0") != 2 || !strings.Contains(out, "killed by signal killed") {
		t.Errorf("output lacks the restart:\n%s", out)
	}
}

// A replica that keeps crashing hits the start limit: its component is
// marked failed, visibly, and its dependents say why they wait.
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
	if !strings.Contains(h.out.String(), "component c.C failed: ") {
		t.Errorf("no failure line in output:\n%s", h.out.String())
	}
	// start clears the failure; it fails again.
	res, err := h.cl.Start(context.Background(), "c.C")
	if err != nil {
		t.Fatal(err)
	}
	if res.State != control.Failed {
		t.Errorf("start: %+v", res)
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
	h.eventually("main to see b.B gone", func() bool { return hasLine(h.out.String(), "main.Main/1", "routes a.A=2 b.B=0") })

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
	if !strings.Contains(h.out.String(), "a.A+b.B/0 did not stop within 200ms of SIGTERM; killing it") {
		t.Errorf("no kill line:\n%s", h.out.String())
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
	if pid, ok := control.Running(h.dir); !ok || pid != os.Getpid() {
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
