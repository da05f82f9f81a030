package supervisor

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/state"
)

// After SIGKILL of the supervisor, no process it started survives: not the
// proclets (Pdeathsig, and EOF of their control socket), not one that
// ignores SIGTERM and EOF, not a unit, not what a unit forked, not the
// units' shims.
func TestNoOrphansAfterSupervisorSIGKILL(t *testing.T) {
	t.Parallel()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := stateDir(t)
	d, _ := json.Marshal(desc("*main.Main:b.B", "b.B"))
	cfg := "[run]\nreplicas = 2\n[units.sleeper]\ncommand = \"" + self + "\"\nenv = [\"FAKE_ROLE=sleep\"]\n" +
		"[units.forker]\ncommand = \"sh\"\nargs = [\"-c\", \"sleep 300 & echo child $!; wait\"]\n"
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), "FAKE_ROLE=supervisor", state.StateDirEnv+"="+dir,
		"FAKE_DESC="+string(d), "FAKE_CONFIG="+cfg, "FAKE_STUBBORN=b.B")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := false
	defer func() {
		if !waited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		if t.Failed() {
			t.Logf("supervisor output:\n%s", out.String())
		}
	}()

	cl := control.Dial(dir)
	defer cl.Close()
	var st *control.Status
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err = cl.Status(ctx)
		cancel()
		if err == nil && !st.ReadyAt.IsZero() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the app was not ready within 10s: %v", err)
		}
	}
	var children []int
	for _, u := range st.Units {
		for _, r := range u.Replicas {
			if r.PID != 0 && !containsInt(children, r.PID) {
				children = append(children, r.PID)
			}
		}
	}
	if len(children) != 6 {
		t.Fatalf("children = %v, want 6 (2+2 replicas and two units)", children)
	}
	// The shims of the units, and what the forking unit forked.
	for _, u := range st.Units {
		if u.Kind == "unit" {
			ppid, _, ok := procStat(u.Replicas[0].PID)
			if !ok || ppid == cmd.Process.Pid {
				t.Fatalf("unit %s (pid %d) is not run by a shim (parent %d)", u.Name, u.Replicas[0].PID, ppid)
			}
			children = append(children, ppid)
		}
	}
	grandchild := waitChildLine(t, &out, "forker")
	children = append(children, grandchild)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	waited = true
	deadline := time.Now().Add(3 * time.Second)
	for _, pid := range children {
		for alive(pid) {
			if time.Now().After(deadline) {
				t.Errorf("pid %d survived the supervisor's SIGKILL", pid)
				_ = syscall.Kill(pid, syscall.SIGKILL) // ours: started by our child
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) S ...: the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || !bytes.HasPrefix([]byte(strings.TrimSpace(s[i+1:])), []byte("Z"))
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// waitChildLine waits for the line "child PID" of source in out and returns
// the pid.
func waitChildLine(t *testing.T, out interface{ String() string }, source string) int {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		for line := range strings.SplitSeq(out.String(), "\n") {
			src, rest, ok := strings.Cut(line, " | ")
			if ok && strings.TrimSpace(src) == source && strings.HasPrefix(rest, "child ") {
				pid, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(rest, "child ")))
				if err == nil {
					return pid
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no \"child PID\" line from %s", source)
		}
	}
}

// waitGone waits up to d for pid to be gone; if it is not, it fails and
// kills it (a descendant of the test).
func waitGone(t *testing.T, pid int, d time.Duration, what string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Errorf("pid %d (%s) survived", pid, what)
			_ = syscall.Kill(pid, syscall.SIGKILL)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stopping a unit ends what it forked too; so does its main process
// exiting; and neither leaves the shim behind.
func TestUnitChildrenEnd(t *testing.T) {
	t.Parallel()
	cfg := "[run]\nreplicas = 1\n" +
		"[units.forker]\ncommand = \"sh\"\nargs = [\"-c\", \"sleep 300 & echo child $!; wait\"]\n" +
		"[units.leaver]\ncommand = \"sh\"\nargs = [\"-c\", \"sleep 300 & echo child $!; sleep 0.3\"]\nrestart = \"no\"\n"
	h := start(t, desc("*main.Main"), cfg)
	grandchild := waitChildLine(t, h.out, "forker")
	left := waitChildLine(t, h.out, "leaver")
	h.eventually("forker to be ready", func() bool { return h.unit("forker").State == control.Ready })
	unit := h.unit("forker").Replicas[0].PID
	shimPID, _, _ := procStat(unit)
	res, err := h.cl.Stop(context.Background(), "forker")
	if err != nil || res.State != control.Stopped {
		t.Fatalf("stop forker: %+v, %v", res, err)
	}
	for pid, what := range map[int]string{unit: "the unit", grandchild: "its child", shimPID: "its shim"} {
		waitGone(t, pid, 3*time.Second, what)
	}
	// leaver's sh exits 0 after 300ms, leaving its sleep behind.
	waitGone(t, left, 3*time.Second, "the child a unit left behind")
}
