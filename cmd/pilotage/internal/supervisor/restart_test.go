package supervisor

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
)

// A replica in a crash loop never stops its healthy sibling: it hits its
// own start limit, is failed and tried again after the cool-down, while
// its component is degraded (saying why) and its sibling and dependents
// keep their processes.
func TestCrashLoopKeepsSiblings(t *testing.T) {
	t.Parallel()
	h := start(t, desc("*main.Main:b.B", "b.B"),
		"[run]\nreplicas = 1\nstart_limit = 2\nrestart_cooldown = \"1s\"\n[run.components.\"b.B\"]\nreplicas = 2\n",
		"FAKE_CRASH=b.B/1")
	h.eventually("b.B/1 to fail", func() bool {
		return h.unit("b.B").Replicas[1].State == control.Failed
	})
	b := h.unit("b.B")
	if b.State != control.Degraded {
		t.Errorf("b.B state %s, want degraded", b.State)
	}
	if !strings.Contains(b.Why, "1 of 2 replicas serve") || !strings.Contains(b.Why, "b.B/1 failed") || !strings.Contains(b.Why, "start limit hit: 2 restarts within 30s; trying again in 1s") {
		t.Errorf("b.B why = %q", b.Why)
	}
	healthy := b.Replicas[0]
	if healthy.State != control.Ready || healthy.PID == 0 {
		t.Fatalf("b.B/0 = %+v, want ready", healthy)
	}
	mainPID := h.unit("main.Main").Replicas[0].PID
	// The failed replica is tried again after its cool-down, for ever.
	restarts := b.Replicas[1].Restarts
	h.eventually("b.B/1 to be tried again after its cool-down", func() bool {
		return h.unit("b.B").Replicas[1].Restarts > restarts
	})
	h.eventually("b.B/1 to fail again", func() bool { return h.unit("b.B").Replicas[1].State == control.Failed })
	after := h.unit("b.B")
	if after.Replicas[0].PID != healthy.PID {
		t.Errorf("the healthy replica changed: pid %d -> %d", healthy.PID, after.Replicas[0].PID)
	}
	if got := h.unit("main.Main").Replicas[0].PID; got != mainPID {
		t.Errorf("main restarted: pid %d -> %d", mainPID, got)
	}
	if r := h.routes("b.B"); len(r) != 1 {
		t.Errorf("routes of b.B = %v, want the healthy replica's", r)
	}
}

// A component all of whose replicas crash is failed, and recovers by
// itself once the cause is gone: after the cool-down it is tried again,
// and the components waiting for it start, with nobody typing a command.
func TestFailedComponentRecoversByItself(t *testing.T) {
	t.Parallel()
	flag := filepath.Join(t.TempDir(), "crash")
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	h := start(t, desc("*main.Main:c.C", "c.C"),
		"[run]\nreplicas = 1\nstart_limit = 2\nrestart_cooldown = \"500ms\"\n", "FAKE_CRASH=c.C="+flag)
	h.eventually("c.C to fail", func() bool { return h.unit("c.C").State == control.Failed })
	if m := h.unit("main.Main"); m.Why != "waiting for component c.C (failed)" {
		t.Errorf("main why = %q", m.Why)
	}
	if !strings.Contains(h.output(), "component c.C failed: no replica can run") {
		t.Errorf("no failure line in output:\n%s", h.output())
	}
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	h.waitReady()
	if c := h.unit("c.C"); c.State != control.Ready || c.Restarts < 3 {
		t.Errorf("c.C = %s after %d restarts, want ready after at least 3", c.State, c.Restarts)
	}
}

// A restart of a replicated component is rolling: each replica is
// replaced once the one before is ready again, so one always serves; a
// restart of a component in a crash loop starts it afresh.
func TestRollingRestart(t *testing.T) {
	t.Parallel()
	h := start(t, desc("*main.Main:b.B", "b.B"), "[run]\nreplicas = 1\n[run.components.\"b.B\"]\nreplicas = 3\n", "FAKE_SLOW=b.B=100ms")
	h.waitReady()
	before := pids(h.unit("b.B"))
	// Watch the routes of b.B while it restarts: never empty.
	stop := make(chan struct{})
	minRoutes := make(chan int, 1)
	go func() {
		least := 3
		for {
			select {
			case <-stop:
				minRoutes <- least
				return
			default:
			}
			least = min(least, len(h.routes("b.B")))
			time.Sleep(time.Millisecond)
		}
	}()
	res, err := h.cl.Restart(context.Background(), "b.B")
	close(stop)
	if err != nil || res.State != control.Ready || !res.Settled {
		t.Fatalf("restart: %+v, %v", res, err)
	}
	if least := <-minRoutes; least < 2 {
		t.Errorf("b.B had %d routes at some point of its restart, want at least 2 of 3", least)
	}
	after := pids(h.unit("b.B"))
	for i := range before {
		if after[i] == before[i] || after[i] == 0 {
			t.Errorf("replica %d: pid %d -> %d, want a new one", i, before[i], after[i])
		}
	}
	// In order: each replacement is ready before the next replica stops.
	out := h.output()
	at := -1
	for i := range 3 {
		r := "b.B/" + itoa(i)
		if at = lineIndexAfter(out, at, "pilotage", r+" stopped ("); at < 0 {
			t.Fatalf("no stop line of %s after the previous replacement was ready:\n%s", r, out)
		}
		if at = lineIndexAfter(out, at, r, "ready b.B replica "+itoa(i)); at < 0 {
			t.Fatalf("%s's replacement was not ready before the next stopped:\n%s", r, out)
		}
	}
	if c := h.unit("b.B"); c.Restarts != 0 || slices.Contains(after, 0) {
		t.Errorf("a requested restart counts as automatic: %+v", c)
	}
}

// A stopped replica process that a kill brings down while the others serve
// is restarted at once, and counted per replica.
func TestRestartCountedPerReplica(t *testing.T) {
	t.Parallel()
	h := start(t, desc("*main.Main:b.B", "b.B"), "[run]\nreplicas = 1\n[run.components.\"b.B\"]\nreplicas = 2\n")
	h.waitReady()
	for i := range 3 {
		victim := h.unit("b.B").Replicas[1].PID
		if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		h.eventually("b.B/1 back", func() bool {
			r := h.unit("b.B").Replicas[1]
			return r.State == control.Ready && r.PID != victim && r.Restarts == i+1
		})
	}
	b := h.unit("b.B")
	if b.Replicas[0].Restarts != 0 || b.Restarts != 3 {
		t.Errorf("restarts: component %d, replica 0 %d; want 3 and 0", b.Restarts, b.Replicas[0].Restarts)
	}
}

// A restart asked for while a rolling restart runs joins it: still one
// replica at a time.
func TestRestartDuringRollingRestart(t *testing.T) {
	t.Parallel()
	h := start(t, desc("*main.Main:b.B", "b.B"), "[run]\nreplicas = 1\n[run.components.\"b.B\"]\nreplicas = 3\n", "FAKE_SLOW=b.B=150ms")
	h.waitReady()
	stop := make(chan struct{})
	minRoutes := make(chan int, 1)
	go func() {
		least := 3
		for {
			select {
			case <-stop:
				minRoutes <- least
				return
			default:
			}
			least = min(least, len(h.routes("b.B")))
			time.Sleep(time.Millisecond)
		}
	}()
	first := make(chan error, 1)
	go func() {
		_, err := h.cl.Restart(context.Background(), "b.B")
		first <- err
	}()
	// Ask again while the first restart replaces the second replica.
	h.eventually("the first restart to reach b.B/1", func() bool {
		r := h.unit("b.B").Replicas[1]
		return r.State != control.Ready
	})
	res, err := h.cl.Restart(context.Background(), "b.B")
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	close(stop)
	if err != nil || res.State != control.Ready {
		t.Fatalf("second restart: %+v, %v", res, err)
	}
	if least := <-minRoutes; least < 2 {
		t.Errorf("b.B had %d routes at some point, want at least 2 of 3: two replicas were down at once", least)
	}
}

// When a dependency with restart_dependents crashes and has no ready
// replica left, its dependents are restarted as at first start: their new
// processes start once the dependency is ready again, not while it is down.
func TestRestartDependentsWaitForCrashedDependency(t *testing.T) {
	t.Parallel()
	h := start(t, desc("*main.Main:c.C", "c.C:a.A", "a.A"),
		"[run]\nreplicas = 1\n[run.components.\"a.A\"]\nrestart_dependents = true\n[run.components.\"c.C\"]\nreplicas = 2\n",
		"FAKE_SLOW=a.A=300ms")
	h.waitReady()
	cBefore := pids(h.unit("c.C"))
	if err := syscall.Kill(h.unit("a.A").Replicas[0].PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	h.eventually("c.C to be restarted and ready", func() bool {
		u := h.unit("c.C")
		return u.State == control.Ready && !slices.Contains(pids(u), cBefore[0]) && !slices.Contains(pids(u), cBefore[1])
	})
	out := h.output()
	aReady := lineIndexAfter(out, lineIndex(out, "a.A/0", "ready a.A replica 0"), "a.A/0", "ready a.A replica 0")
	for i := range 2 {
		r := "c.C/" + itoa(i)
		second := lineIndexAfter(out, lineIndex(out, r, "starting c.C replica "+itoa(i)), r, "starting c.C replica "+itoa(i))
		if aReady < 0 || second < aReady {
			t.Errorf("%s started again (line %d) before a.A's replacement was ready (line %d):\n%s", r, second, aReady, out)
		}
	}
}

// While the only replica of a component is being replaced (killed, or
// killed for not answering pings), every route its callers get says to
// wait for it: none, even for a moment, says to fail fast. (The routes
// sent as a killed replica's exit was handled used to say "no ready
// replica", and its callers' retries failed at once.)
func TestCallersWaitWhileReplicaReplaced(t *testing.T) {
	t.Parallel()
	self, _ := os.Executable()
	h := launch(t, Options{App: "test", Binary: self, Description: desc("*main.Main:b.B,c.C", "b.B", "c.C"),
		Config: mustConfig("[run]\nreplicas = 1\n"),
		Env:    []string{"FAKE_DEAF=c.C"},
		// c.C never answers pings: it is taken out of routing and killed
		// over and over.
		PingInterval: 50 * time.Millisecond, UnresponsiveAfter: 300 * time.Millisecond, KillUnresponsiveAfter: 600 * time.Millisecond})
	h.waitReady()
	for kill := 1; kill <= 3; kill++ {
		victim := h.unit("b.B").Replicas[0].PID
		if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		h.eventually("b.B to be back", func() bool {
			r := h.unit("b.B").Replicas[0]
			return r.State == control.Ready && r.PID != victim && r.PID != 0
		})
	}
	h.eventually("c.C to be killed for not answering", func() bool { return h.unit("c.C").Restarts >= 2 })
	var waits int
	for _, line := range strings.Split(h.output(), "\n") {
		if _, rest, _ := strings.Cut(line, "main.Main/0 | "); strings.HasPrefix(rest, "routes ") {
			if strings.Contains(rest, "fails fast") {
				t.Errorf("main was told to fail fast: %s", rest)
			}
			waits += strings.Count(rest, " waits: ")
		}
	}
	if waits < 3 {
		t.Errorf("main was told to wait %d times, want one per outage at least:\n%s", waits, h.output())
	}
}
