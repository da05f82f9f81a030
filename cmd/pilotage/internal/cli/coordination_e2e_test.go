package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/coord"
)

// runTestApp runs "pilotage run" of the test app with state directory state
// until the test ends, and waits until it is ready.
func runTestApp(t *testing.T, state string) *control.Status {
	t.Helper()
	bin, err := buildTools()
	if err != nil {
		t.Fatal(err)
	}
	exited := startRun(t, []string{"PILOTAGE_STATE_DIR=" + state}, filepath.Join(bin, "loadapp"))
	t.Setenv("PILOTAGE_STATE_DIR", state)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		js, _, code := run(t, "status", "-json")
		var st control.Status
		if code == 0 && json.Unmarshal([]byte(js), &st) == nil && !st.ReadyAt.IsZero() && st.Coordination != nil {
			return &st
		}
		select {
		case err := <-exited:
			t.Fatalf("pilotage run exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the app is not ready after 30s")
		}
	}
}

// startRun starts "pilotage run args..." with env added to the test's,
// stops it (SIGTERM, then SIGKILL after 20s) when the test ends, logging
// its output if the test failed, and returns a channel that says when it
// exited.
func startRun(t *testing.T, env []string, args ...string) <-chan error {
	t.Helper()
	bin, err := buildTools()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(bin, "pilotage"), append([]string{"run"}, args...)...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), env...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	done := make(chan struct{}) // closed at the exit: the test may have taken exited's value
	go func() { exited <- cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("pilotage run:\n%s", out.String())
		}
	})
	return exited
}

// mustRun runs the pilotage command with args, which must succeed.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errs, code := run(t, args...)
	if code != 0 {
		t.Fatalf("pilotage %s: exit %d: %s", strings.Join(args, " "), code, errs)
	}
	return out
}

// The coordination commands on a real app under "pilotage run": locks,
// leaders and config keys as the app's store has them, a lock released
// by force (its holder fenced out), config writes checked against the
// key's registered type, and clear errors for what does not exist.
func TestCoordinationCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the pilotage command")
	}
	state, err := os.MkdirTemp("", "pl")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(state)
	st := runTestApp(t, state)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	connect := func(replica string) *coord.Store {
		s, err := coord.Connect(ctx, coord.Options{Endpoints: st.Coordination.Endpoints, Prefix: st.Coordination.Prefix, Replica: replica, DialTimeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	holder, waiter := connect("holder"), connect("waiter")
	pid := os.Getpid()

	if out := mustRun(t, "locks"); out != "no lock is held or waited for\n" {
		t.Errorf("locks of none: %q", out)
	}
	l, err := holder.Lock(ctx, "job")
	if err != nil {
		t.Fatal(err)
	}
	next := make(chan *coord.Lock, 1)
	go func() {
		n, err := waiter.Lock(ctx, "job")
		if err != nil {
			t.Errorf("waiter: %v", err)
		}
		next <- n
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var locks []api.LockStatus
		if err := json.Unmarshal([]byte(mustRun(t, "locks", "-json")), &locks); err != nil {
			t.Fatal(err)
		}
		if len(locks) == 1 && locks[0].Waiters == 1 {
			if want := fmt.Sprintf("holder pid %d", pid); locks[0].Name != "job" || locks[0].Holder != want || locks[0].Token != l.Token() {
				t.Errorf("locks -json: %+v, want job held by %q with token %d", locks[0], want, l.Token())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("locks -json: %+v: no waiter after 10s", locks)
		}
	}
	out := spaces.ReplaceAllString(mustRun(t, "locks"), " ")
	row := regexp.MustCompile(fmt.Sprintf(`(?m)^job holder pid %d %d in [0-9.]+m?s 1$`, pid, l.Token()))
	if !strings.HasPrefix(out, "NAME HOLDER TOKEN EXPIRES WAITERS\n") || !row.MatchString(out) {
		t.Errorf("locks:\n%s", out)
	}

	// Unlock: says whom it took the lock from, fences that holder out.
	out = mustRun(t, "unlock", "job")
	if want := fmt.Sprintf("lock job: released from holder pid %d (token %d)", pid, l.Token()); !strings.HasPrefix(out, want) {
		t.Errorf("unlock: %q, want %q...", out, want)
	}
	select {
	case <-l.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the old holder's lock context is not cancelled")
	}
	if _, err := l.Put(ctx, "ledger", []byte("stale")); !errors.Is(err, coord.ErrFenced) {
		t.Errorf("the old holder's fenced put: %v, want ErrFenced", err)
	}
	if n := <-next; n == nil || n.Token() <= l.Token() {
		t.Fatalf("the waiter's lock: %v", n)
	}
	if _, errs, code := run(t, "unlock", "nope"); code != 1 || !strings.Contains(errs, `no lock "nope" is held or waited for`) {
		t.Errorf("unlock nope: %d %q", code, errs)
	}
	if _, errs, code := run(t, "unlock", ""); code != 1 || !strings.Contains(errs, "the lock name is empty") {
		t.Errorf("unlock of no name: %d %q", code, errs)
	}

	// Leaders.
	if _, err := holder.Election("coordinator").Campaign(ctx, "10.0.0.1:9000"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		out := spaces.ReplaceAllString(mustRun(t, "leaders"), " ")
		if strings.HasPrefix(out, "ELECTION LEADER VALUE TOKEN CANDIDATES\n") &&
			regexp.MustCompile(fmt.Sprintf(`(?m)^coordinator holder pid %d 10\.0\.0\.1:9000 [0-9]+ 1$`, pid)).MatchString(out) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("leaders:\n%s", out)
		}
	}

	// Config keys.
	type limits struct{ Rate int }
	if _, err := coord.Config(ctx, holder, "limits/api", limits{Rate: 10}); err != nil {
		t.Fatal(err)
	}
	if out := mustRun(t, "config", "put", "limits/api", `{"Rate":20}`); !regexp.MustCompile(`^set limits/api at revision [0-9]+ \(it decodes into the key's registered type\)\n$`).MatchString(out) {
		t.Errorf("config put: %q", out)
	}
	if _, errs, code := run(t, "config", "put", "limits/api", `{"Rate":"fast"}`); code != 1 || !strings.Contains(errs, "value of key limits/api does not decode into its registered type") {
		t.Errorf("config put of a bad value: %d %q", code, errs)
	}
	stdin = strings.NewReader("plain text\n")
	defer func() { stdin = os.Stdin }()
	mustRun(t, "config", "put", "note", "-")
	out = spaces.ReplaceAllString(mustRun(t, "config"), " ")
	if !regexp.MustCompile(`^KEY REVISION SIZE TYPED\nlimits/api [0-9]+ 11 yes\nnote [0-9]+ 11 no\n$`).MatchString(out) {
		t.Errorf("config:\n%s", out)
	}
	if out := mustRun(t, "config", "ls", "lim"); strings.Contains(out, "note") || !strings.Contains(out, "limits/api") {
		t.Errorf("config ls lim:\n%s", out)
	}
	if out := mustRun(t, "config", "get", "limits/api"); out != "{\"Rate\":20}\n" {
		t.Errorf("config get: %q", out)
	}
	if out := mustRun(t, "config", "-json", "get", "note"); !strings.Contains(out, `"value": "plain text\n"`) {
		t.Errorf("config -json get: %s", out)
	}
	v, err := holder.Get(ctx, "note")
	if err != nil || string(v.Value) != "plain text\n" {
		t.Errorf("the store has note = %q, %v", v.Value, err)
	}
	if out := mustRun(t, "config", "rm", "note"); !strings.HasPrefix(out, "deleted note at revision ") {
		t.Errorf("config rm: %q", out)
	}
	if out := mustRun(t, "config", "rm", "note"); out != "note was not set\n" {
		t.Errorf("config rm again: %q", out)
	}
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"config", "get", "note"}, `no config key "note"`},
		{[]string{"config", "get", ""}, "get: the key is empty"},
		{[]string{"config", "put", strings.Repeat("k", 2000), "1"}, "over the limit of 1024"},
		{[]string{"config", st.App, "frob"}, `unknown subcommand "frob"`},
	} {
		if _, errs, code := run(t, tc.args...); code != 1 || !strings.Contains(errs, tc.err) {
			t.Errorf("pilotage %.40s: %d %q, want %q", strings.Join(tc.args, " "), code, errs, tc.err)
		}
	}
}
