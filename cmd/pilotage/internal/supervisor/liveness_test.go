package supervisor

import (
	"context"
	"os"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
)

// A replica that stops answering pings is taken out of routing at once,
// shown as unresponsive, and killed and replaced after the threshold; its
// sibling keeps serving throughout.
func TestUnresponsiveReplicaReplaced(t *testing.T) {
	t.Parallel()
	self, _ := os.Executable()
	h := launch(t, Options{App: "test", Binary: self, Description: desc("*main.Main:b.B", "b.B"),
		Config:       mustConfig("[run]\nreplicas = 1\n[run.components.\"b.B\"]\nreplicas = 2\n"),
		Env:          []string{"FAKE_DEAF=b.B/1"},
		PingInterval: 50 * time.Millisecond, UnresponsiveAfter: 400 * time.Millisecond, KillUnresponsiveAfter: 1500 * time.Millisecond})
	h.waitReady()
	deaf := h.unit("b.B").Replicas[1]
	h.eventually("b.B/1 to be unresponsive", func() bool { return h.unit("b.B").Replicas[1].State == control.Unresponsive })
	b := h.unit("b.B")
	if b.State != control.Degraded || !strings.Contains(b.Why, "b.B/1 unresponsive (not responding to pings for") {
		t.Errorf("b.B: state %s, why %q", b.State, b.Why)
	}
	if r := h.routes("b.B"); len(r) != 1 || r[0] != b.Replicas[0].RPCAddress {
		t.Errorf("routes of b.B = %v, want only b.B/0's %s", r, b.Replicas[0].RPCAddress)
	}
	h.eventually("b.B/1 to be killed and replaced", func() bool {
		r := h.unit("b.B").Replicas[1]
		return r.PID != deaf.PID && r.PID != 0
	})
	// Killed once silent for 1.5s, or a tick later on a loaded machine.
	if !regexp.MustCompile(`pilotage +\| b\.B/1 is not responding for 1\.[5-9]s; killing it`).MatchString(h.output()) {
		t.Errorf("no kill line:\n%s", h.output())
	}
	if got := h.unit("b.B").Replicas[0]; got.PID != b.Replicas[0].PID || got.State != control.Ready {
		t.Errorf("b.B/0 changed: %+v", got)
	}
}

// More processes than the machine should run are refused unless forced;
// processes start a few at a time, and a stop ends the start at once.
func TestProcessBounds(t *testing.T) {
	t.Parallel()
	self, _ := os.Executable()
	_, err := New(context.Background(), Options{App: "test", Binary: self, StateDir: stateDir(t), Description: desc("*main.Main"),
		Config: mustConfig("[run]\nreplicas = 10000\n")})
	if err == nil || !strings.Contains(err.Error(), "asks for 10000 processes, more than this machine should run") || !strings.Contains(err.Error(), "-force") {
		t.Errorf("New with 10000 replicas: %v", err)
	}
	h := launch(t, Options{App: "test", Binary: self, Description: desc("*main.Main:b.B", "b.B"),
		Config:       mustConfig("[run]\nreplicas = 1\n[run.components.\"b.B\"]\nreplicas = 200\n"),
		Env:          []string{"FAKE_SLOW=b.B=200ms"},
		MaxProcesses: -1, MaxStarting: 3})
	most := 0
	for deadline := time.Now().Add(700 * time.Millisecond); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		n := 0
		for _, r := range h.unit("b.B").Replicas {
			if r.PID != 0 && r.State == control.Starting {
				n++
			}
		}
		most = max(most, n)
	}
	if most > 3 || most == 0 {
		t.Errorf("%d processes starting at once, want 1 to 3", most)
	}
	if u := h.unit("b.B"); !strings.Contains(u.Replicas[199].Why, "queued: 3 processes are starting (at most 3 at once)") {
		t.Errorf("the last replica's why: %q", u.Replicas[199].Why)
	}
	begin := time.Now()
	h.shutdown()
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("stopping took %v", d)
	}
	if n := strings.Count(h.output(), "| starting b.B replica"); n > 40 {
		t.Errorf("%d replicas were started; the stop should have ended the start", n)
	}
}

// A supervisor that was itself stopped for a while (Ctrl-Z, a debugger)
// does not take the silence it did not witness for frozen replicas: none
// is taken out of routing or replaced when it resumes.
func TestSupervisorPauseSparesReplicas(t *testing.T) {
	t.Parallel()
	cl, st, out := startHelperSupervisor(t,
		"FAKE_DESC="+`{"components":[{"name":"example.com/app/main.Main","refs":[],"listeners":[],"main":true}]}`,
		"FAKE_CONFIG=[run]\nreplicas = 2\n", "FAKE_LOG_PINGS=1")
	before := pids(st.Units[0])
	pid := st.PID
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(DefaultUnresponsiveAfter + time.Second)
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	// Once each replica has answered three pings since the pause (a line
	// written just before it may be read only after; of the others, the
	// first answer has then surely reached the supervisor), it has
	// decided: the replicas are the same and still serving.
	resumed := len(out.String())
	deadline := time.Now().Add(10 * time.Second)
	for !answeredThrice(out.String()[resumed:], "main.Main/0", "main.Main/1") {
		if time.Now().After(deadline) {
			t.Fatalf("the replicas answered no pings after the pause:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	st, err := cl.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := pids(st.Units[0]); !slices.Equal(got, before) || st.Units[0].State != control.Ready {
		t.Errorf("after the pause: %s %v, want ready %v", st.Units[0].State, got, before)
	}
	if strings.Contains(out.String(), "not responding") {
		t.Errorf("a replica was taken for frozen:\n%s", out.String())
	}
}

// answeredThrice reports whether out shows three "pong sent" lines of
// each source.
func answeredThrice(out string, sources ...string) bool {
	for _, src := range sources {
		n := 0
		for line := range strings.Lines(out) {
			if s, msg, ok := strings.Cut(line, "|"); ok && strings.TrimSpace(s) == src && strings.TrimSpace(msg) == "pong sent" {
				n++
			}
		}
		if n < 3 {
			return false
		}
	}
	return true
}
