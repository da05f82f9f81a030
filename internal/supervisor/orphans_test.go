package supervisor

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pilotage/pilotage/internal/control"
)

// After SIGKILL of the supervisor, no process it started survives: not the
// proclets (Pdeathsig, and EOF of their control socket), not one that
// ignores SIGTERM and EOF, not a unit.
func TestNoOrphansAfterSupervisorSIGKILL(t *testing.T) {
	t.Parallel()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := stateDir(t)
	d, _ := json.Marshal(desc("*main.Main:b.B", "b.B"))
	cfg := "[run]\nreplicas = 2\n[units.sleeper]\ncommand = \"" + self + "\"\nenv = [\"FAKE_ROLE=sleep\"]\n"
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), "FAKE_ROLE=supervisor", control.StateDirEnv+"="+dir,
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
	if len(children) != 5 {
		t.Fatalf("children = %v, want 5 (2+2 replicas and a unit)", children)
	}
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
