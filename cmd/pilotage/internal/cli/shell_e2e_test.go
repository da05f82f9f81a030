package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
)

// runShop runs "pilotage run" of the example shop, on a free port, with
// its state under stateHome, until the test ends, and waits until it is
// ready.
func runShop(t *testing.T, stateHome string) {
	t.Helper()
	shop, err := filepath.Abs("../../../../examples/shop")
	if err != nil {
		t.Fatal(err)
	}
	toml, err := os.ReadFile(filepath.Join(shop, "pilotage.toml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "pilotage.toml")
	if err := os.WriteFile(cfg, []byte(strings.Replace(string(toml), "127.0.0.1:8080", "127.0.0.1:0", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	exited := startRun(t, []string{"XDG_STATE_HOME=" + stateHome}, "-c", cfg, shop)
	t.Setenv("XDG_STATE_HOME", stateHome)
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		js, _, code := run(t, "status", "-json", "shop")
		var st control.Status
		if code == 0 && json.Unmarshal([]byte(js), &st) == nil && !st.ReadyAt.IsZero() {
			return
		}
		select {
		case err := <-exited:
			t.Fatalf("pilotage run exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the shop is not ready after 2m")
		}
	}
}

// A tmux session running a command in a terminal of its own.
type tmuxSession struct {
	t    *testing.T
	sock string
}

// startTmux runs command in a new tmux server and session (a private
// socket, stopped when the test ends), in a 160x50 terminal.
func startTmux(t *testing.T, dir string, env []string, command ...string) *tmuxSession {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (apt-get install tmux)")
	}
	s := &tmuxSession{t: t, sock: filepath.Join(t.TempDir(), "tmux.sock")}
	args := []string{"-S", s.sock, "-f", "/dev/null", "new-session", "-d", "-x", "160", "-y", "50", "-c", dir}
	for _, e := range env {
		args = append(args, "-e", e)
	}
	args = append(args, command...)
	if out, err := exec.Command("tmux", args...).CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("terminal at the end:\n%s", s.screen())
		}
		exec.Command("tmux", "-S", s.sock, "kill-server").Run()
	})
	return s
}

// send types keys, as tmux send-keys names them ("Enter", "Tab", "C-c").
func (s *tmuxSession) send(keys ...string) {
	s.t.Helper()
	if out, err := exec.Command("tmux", append([]string{"-S", s.sock, "send-keys", "-t", "0"}, keys...)...).CombinedOutput(); err != nil {
		s.t.Fatalf("tmux send-keys %q: %v\n%s", keys, err, out)
	}
}

// screen returns what the terminal shows, with its scrollback.
func (s *tmuxSession) screen() string {
	out, _ := exec.Command("tmux", "-S", s.sock, "capture-pane", "-p", "-J", "-S", "-1000", "-t", "0").Output()
	return string(out)
}

// waitFor waits until the terminal shows every one of texts after the
// screen's first len(skip) bytes, and returns the screen.
func (s *tmuxSession) waitFor(from int, texts ...string) string {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		scr := s.screen()
		rest := ""
		if from < len(scr) {
			rest = scr[from:]
		}
		missing := ""
		for _, tx := range texts {
			if !strings.Contains(rest, tx) {
				missing = tx
				break
			}
		}
		if missing == "" {
			return scr
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the terminal does not show %q after 30s:\n%s", missing, rest)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// mark returns where new output starts, for waitFor.
func (s *tmuxSession) mark() int { return len(strings.TrimRight(s.screen(), "\n")) }

// The interactive shell, driven for real in a terminal (tmux) against the
// shop under "pilotage run": navigate, complete a name, cat a replica,
// stop and start a component, follow logs across replicas (Ctrl-C ends
// the command, not the shell), call a method, and history.
func TestShellInTerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the shop")
	}
	stateHome := t.TempDir()
	runShop(t, stateHome)
	bin, _ := buildTools()
	sh := startTmux(t, t.TempDir(), []string{"XDG_STATE_HOME=" + stateHome, "EDITOR=true", "PATH=" + os.Getenv("PATH")}, filepath.Join(bin, "pilotage"), "sh")

	sh.waitFor(0, "(shop) /apps/shop> ")
	m := sh.mark()
	sh.send("cd comp", "Tab")
	sh.waitFor(m, "cd components/")
	sh.send("Enter")
	sh.waitFor(m, "(shop) /apps/shop/components> ")

	m = sh.mark()
	sh.send("ls -l", "Enter")
	sh.waitFor(m, "NAME", "catalog.Catalog", "cart.Cart", "Ready")

	// Completion of a live name, then cat of a replica.
	m = sh.mark()
	sh.send("cat catalog.Catalog/replicas/0/st", "Tab")
	sh.waitFor(m, "cat catalog.Catalog/replicas/0/status ")
	sh.send("Enter")
	sh.waitFor(m, "pid:", "source: catalog.Catalog/0")

	m = sh.mark()
	sh.send("stop cart.Cart", "Enter")
	sh.waitFor(m, "component cart.Cart: stopped")
	m = sh.mark()
	sh.send("ls -l", "Enter")
	sh.waitFor(m, "Stopped")
	m = sh.mark()
	sh.send("start cart.Cart", "Enter")
	sh.waitFor(m, "component cart.Cart: ready")
	m = sh.mark()
	sh.send("ls -l cart.Cart/replicas", "Enter")
	sh.waitFor(m, "Ready")

	// Logs followed across both replicas of the catalog; calls make lines.
	m = sh.mark()
	sh.send("logs -f catalog.Catalog/replicas/*", "Enter")
	sh.waitFor(m, "catalog.Catalog/replicas/0: ", "catalog.Catalog/replicas/1: ")
	sh.send("C-c")
	sh.waitFor(m, "(shop) /apps/shop/components> ")

	m = sh.mark()
	sh.send(`call catalog.Catalog Get '{"id": "mug"}'`, "Enter")
	sh.waitFor(m, `"ID": "mug"`)

	// History: the previous line comes back with Up.
	m = sh.mark()
	sh.send("Up")
	sh.waitFor(m, `call catalog.Catalog Get`)
	sh.send("C-c")

	m = sh.mark()
	sh.send("cat /apps/shop/nothing", "Enter")
	sh.waitFor(m, "cat: /apps/shop/nothing: no such path")
	sh.send("exit", "Enter")
	deadline := time.Now().Add(10 * time.Second)
	for exec.Command("tmux", "-S", sh.sock, "has-session").Run() == nil {
		if time.Now().After(deadline) {
			t.Fatal("the shell did not exit")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
