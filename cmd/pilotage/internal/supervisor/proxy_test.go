package supervisor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
)

// startWeb runs a fake app whose main component serves listener "web",
// and returns the public address.
func startWeb(t *testing.T, cfg string, env ...string) (*harness, string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{App: "test", Binary: self, Config: mustConfig(cfg), Description: desc("*main.Main@web"), Env: env}
	h := launch(t, opts)
	h.waitReady()
	return h, h.status().Proxies[0].Address
}

// isReset reports whether err is a connection reset by the peer.
func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }

// A listener whose component has no ready replica answers an HTTP request
// with 503 and the reason, and resets any other connection: it never
// accepts and then closes without a word. It serves again once started.
func TestListenerWithoutReplica(t *testing.T) {
	t.Parallel()
	h, addr := startWeb(t, "[run]\nreplicas = 1\n")
	if res, err := h.cl.Stop(context.Background(), "main.Main"); err != nil || res.State != control.Stopped {
		t.Fatalf("stop: %+v, %v", res, err)
	}
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "listener web has no ready replica: stopped") {
		t.Errorf("GET: %s %q", resp.Status, body)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "HELLO there\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !isReset(err) {
		t.Errorf("a non-HTTP client read %v, want a connection reset", err)
	}
	if px := h.status().Proxies[0]; px.Unavailable != 2 || px.Outage != "stopped" {
		t.Errorf("proxy status %+v, want 2 unavailable, outage stopped", px)
	}
	if _, err := h.cl.Start(context.Background(), "main.Main"); err != nil {
		t.Fatal(err)
	}
	if code, body := get(http.DefaultClient, "http://"+addr+"/"); code != http.StatusOK {
		t.Errorf("after start: %d %s", code, body)
	}
}

// While the listener's only replica restarts, a new connection waits for
// it instead of failing.
func TestListenerWaitsForRestart(t *testing.T) {
	t.Parallel()
	h, addr := startWeb(t, "[run]\nreplicas = 1\n", "FAKE_SLOW=main.Main=300ms")
	victim := h.unit("main.Main").Replicas[0].PID
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	h.eventually("the replica to be gone", func() bool { return len(h.status().Proxies[0].Backends) == 0 })
	start := time.Now()
	code, body := get(&http.Client{Timeout: 10 * time.Second}, "http://"+addr+"/")
	if code != http.StatusOK || !strings.HasPrefix(body, "main.Main/0 pid ") || strings.HasSuffix(body, itoa(victim)) {
		t.Errorf("GET during the restart: %d %q", code, body)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("answered after %v: it did not wait for the replacement", d)
	}
}

// The proxy bounds its connections: past the limit it resets new ones,
// says so in status, and serves again once connections close; idle ones
// are closed after the idle timeout.
func TestListenerConnectionLimit(t *testing.T) {
	t.Parallel()
	h, addr := startWeb(t, "[run]\nreplicas = 1\n[listeners.web]\nmax_connections = 10\nidle_timeout = \"700ms\"\n")
	var idle []net.Conn
	for range 10 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	h.eventually("10 connections open", func() bool { return h.status().Proxies[0].Connections == 10 })
	if extra, err := net.Dial("tcp", addr); !isReset(err) { // the reset may beat connect's return
		if err != nil {
			t.Fatal(err)
		}
		extra.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := extra.Read(make([]byte, 1)); !isReset(err) {
			t.Errorf("the 11th connection read %v, want a reset", err)
		}
		extra.Close()
	}
	if px := h.status().Proxies[0]; px.Refused != 1 || px.MaxConnections != 10 {
		t.Errorf("proxy status %+v, want 1 refused of max 10", px)
	}
	// Idle connections are closed by the proxy: the clients read EOF.
	for _, c := range idle {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("an idle connection read %v, want EOF after the idle timeout", err)
		}
	}
	h.eventually("the idle connections to be gone", func() bool { return h.status().Proxies[0].Connections == 0 })
	if code, body := get(http.DefaultClient, "http://"+addr+"/"); code != http.StatusOK {
		t.Errorf("after the idle ones closed: %d %s", code, body)
	}
	// A connection in use is not idle, even if one direction is quiet.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for range 4 {
		fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("keep-alive request: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		time.Sleep(400 * time.Millisecond)
	}
}

// A flood of connections cannot take the supervisor to its file
// descriptor limit: run under a low limit, it refuses what is over its
// budget, keeps accepting, still restarts a killed replica, and serves
// again once the flood is gone.
func TestConnectionFloodKeepsSupervisorWorking(t *testing.T) {
	t.Parallel()
	cl, st, _ := startHelperSupervisor(t, "FAKE_NOFILE=300",
		"FAKE_DESC="+`{"components":[{"name":"example.com/app/main.Main","refs":[],"listeners":["web"],"main":true}]}`,
		"FAKE_CONFIG=[run]\nreplicas = 2\n")
	addr := st.Proxies[0].Address
	var flood []net.Conn
	defer func() {
		for _, c := range flood {
			c.Close()
		}
	}()
	for i := range 600 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			if !isReset(err) {
				t.Fatalf("dial %d: %v", i, err)
			}
			continue // refused so fast that the connect saw it
		}
		flood = append(flood, c)
	}
	waitFor(t, "connections to be refused", func() bool {
		st, err := cl.Status(context.Background())
		return err == nil && st.Proxies[0].Refused > 0
	})
	st, err := cl.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if px := st.Proxies[0]; px.AcceptError != "" || px.Connections > 150 {
		t.Errorf("under the flood: %+v", px)
	}
	victim := st.Units[0].Replicas[0].PID
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the killed replica to be replaced", func() bool {
		st, err := cl.Status(context.Background())
		return err == nil && st.Units[0].Replicas[0].State == control.Ready && st.Units[0].Replicas[0].PID != victim
	})
	for _, c := range flood {
		c.Close()
	}
	flood = nil
	waitFor(t, "a request to be served", func() bool {
		code, _ := get(&http.Client{Timeout: 2 * time.Second}, "http://"+addr+"/")
		return code == http.StatusOK
	})
}

// startHelperSupervisor runs a supervisor of a fake app in a process of
// its own (runHelperSupervisor) with env, waits until the app is ready,
// and returns a client, the ready status and the process's output. The
// process is stopped when the test ends.
func startHelperSupervisor(t *testing.T, env ...string) (*control.Client, *control.Status, *syncBuffer) {
	t.Helper()
	dir := stateDir(t)
	self, _ := os.Executable()
	cmd := exec.Command(self)
	cmd.Env = append(append(os.Environ(), "FAKE_ROLE=supervisor", "PILOTAGE_STATE_DIR="+dir), env...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cl := control.Dial(dir)
	t.Cleanup(func() {
		cl.Close()
		cmd.Process.Signal(syscall.SIGCONT)
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			t.Logf("supervisor output:\n%s", out.String())
		}
	})
	var st *control.Status
	waitFor(t, "the app to be ready", func() bool {
		var err error
		st, err = cl.Status(context.Background())
		return err == nil && !st.ReadyAt.IsZero()
	})
	return cl, st, out
}

// waitFor polls cond until it holds or 15s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
