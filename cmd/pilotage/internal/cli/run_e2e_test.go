package cli

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildTools builds the pilotage command and the runtime's test app once
// per test binary.
var buildTools = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "pilotage-cli-e2e")
	if err != nil {
		return "", err
	}
	for _, b := range [][2]string{{"pilotage", "../.."}, {"loadapp", "../../../../internal/testapp/loadapp"}} {
		if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, b[0]), b[1]).CombinedOutput(); err != nil {
			return "", fmt.Errorf("build %s: %v\n%s", b[0], err, out)
		}
	}
	return dir, nil
})

// When the reader of `pilotage run`'s output goes away (pilotage run | head
// -3) or its terminal hangs up, the app keeps running: the supervisor says
// once on stderr that the terminal output stopped, the control API
// answers, and it still stops cleanly on SIGTERM.
func TestRunSurvivesLostTerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the pilotage command")
	}
	t.Parallel()
	bin, err := buildTools()
	if err != nil {
		t.Fatal(err)
	}
	state, err := os.MkdirTemp("", "pl")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(state)
	pilotage := filepath.Join(bin, "pilotage")
	cmd := exec.Command(pilotage, "run", filepath.Join(bin, "loadapp"))
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "PILOTAGE_STATE_DIR="+state)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	var stderrMu sync.Mutex
	cmd.Stderr = writerFunc(func(p []byte) (int, error) {
		stderrMu.Lock()
		defer stderrMu.Unlock()
		return stderr.Write(p)
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()
	// Read three lines, as head -3 does, then go away.
	br := bufio.NewReader(stdout)
	for range 3 {
		if _, err := br.ReadString('\n'); err != nil {
			t.Fatalf("reading the output: %v", err)
		}
	}
	stdout.Close()
	status := func() (string, error) {
		c := exec.Command(pilotage, "status")
		c.Env = cmd.Env
		out, err := c.CombinedOutput()
		return string(out), err
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := status()
		if err == nil && strings.Contains(out, "ready in") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the app is not ready after its output's reader left: %v\n%s", err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Make the app write something: the write to the closed pipe fails.
	restart := exec.Command(pilotage, "restart", "testapp.Calc")
	restart.Env = cmd.Env
	if out, err := restart.CombinedOutput(); err != nil {
		t.Fatalf("restart: %v\n%s", err, out)
	}
	// The logs of a running app come through its control API.
	logs := exec.Command(pilotage, "logs", "pilotage")
	logs.Env = cmd.Env
	if out, err := logs.CombinedOutput(); err != nil || !strings.Contains(string(out), "pilotage | restart component testapp.Calc requested") {
		t.Errorf("logs pilotage: %v\n%s", err, out)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		stderrMu.Lock()
		got := stderr.String()
		stderrMu.Unlock()
		if strings.Contains(got, "pilotage: the terminal output stopped (") {
			if n := strings.Count(got, "the terminal output stopped"); n != 1 {
				t.Errorf("said %d times", n)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stderr does not say that the output stopped:\n%s", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		stderrMu.Lock()
		got := stderr.String()
		stderrMu.Unlock()
		if strings.Contains(got, "pilotage: the terminal hung up; the app keeps running") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stderr does not say that the hangup was ignored:\n%s", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out, err := status(); err != nil {
		t.Fatalf("after SIGHUP: %v\n%s", err, out)
	}
	select {
	case err := <-exited:
		t.Fatalf("pilotage run exited: %v", err)
	default:
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Errorf("pilotage run after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("pilotage run did not stop on SIGTERM")
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
