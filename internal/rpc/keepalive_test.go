package rpc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pilotage/pilotage/codegen"
)

// childServerEnv, when set to a socket path, makes the test binary serve the
// test component on it (childServer) instead of running the tests.
const childServerEnv = "PILOTAGE_RPC_TEST_SERVER"

func TestMain(m *testing.M) {
	if path := os.Getenv(childServerEnv); path != "" {
		os.Exit(childServer(path))
	}
	os.Exit(m.Run())
}

// childServer serves the test component on a Unix socket at path, says
// "ready" on stdout, and serves until killed.
func childServer(path string) int {
	l, err := net.Listen("unix", path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child server:", err)
		return 2
	}
	s := NewServer(ServerOptions{})
	th := newTestHandlers()
	th.blockCtx = make(chan context.Context, 1024)
	if err := s.Register(testComponent, th.handlers()); err != nil {
		fmt.Fprintln(os.Stderr, "child server:", err)
		return 2
	}
	fmt.Println("ready")
	err = s.Serve(l)
	fmt.Fprintln(os.Stderr, "child server:", err)
	return 1
}

// startChildServer runs a test server in a child process and returns its
// socket path and process. The child is stopped by PID at cleanup.
func startChildServer(t *testing.T) (string, *os.Process) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "child.sock")
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childServerEnv+"="+path, "GORACE=atexit_sleep_ms=0")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the test
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGCONT)
		cmd.Process.Kill()
		cmd.Wait()
	})
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(out).ReadString('\n')
		if err == nil && strings.TrimSpace(line) != "ready" {
			err = fmt.Errorf("child said %q", line)
		}
		ready <- err
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatalf("child server: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("child server not ready after 20s")
	}
	return path, cmd.Process
}

// waitFor polls cond until it holds, failing the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still not %s after %v", what, d)
		}
	}
}

// sentAll reports whether c has n calls in flight and has written every byte
// it queued.
func sentAll(c *Conn, n int) bool {
	c.q.mu.Lock()
	flushed := c.q.written == c.q.appended
	c.q.mu.Unlock()
	return flushed && c.inFlight() == n
}

// Short keepalives for tests, still well above scheduling hiccups under the
// race detector on a loaded machine.
var testKeepalive = DialOptions{KeepaliveInterval: 100 * time.Millisecond, KeepaliveTimeout: 500 * time.Millisecond}

// The calls in flight to a server whose process is stopped (SIGSTOP) fail
// with ErrInterrupted within about the keepalive interval plus timeout,
// rather than hang until the process resumes.
func TestKeepaliveFrozenServer(t *testing.T) {
	path, proc := startChildServer(t)
	c, err := Dial(context.Background(), "unix", path, testKeepalive)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Call(context.Background(), testComponent, mEcho, encodeBytes([]byte("x"))); err != nil {
		t.Fatal(err)
	}

	const n = 8
	errs := make(chan error, n)
	for range n { // no deadline: only the keepalive can end them
		go func() {
			_, err := c.Call(context.Background(), testComponent, mBlock, nil)
			errs <- err
		}()
	}
	waitFor(t, 5*time.Second, "sent", func() bool { return sentAll(c, n) })
	if err := proc.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := range n {
		select {
		case err := <-errs:
			if transportKind(err) != codegen.ErrInterrupted || !errors.Is(err, errUnresponsive) {
				t.Errorf("call %d returned %v, want ErrInterrupted (server unresponsive)", i, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of %d calls still blocked 10s after the server froze", n-i, n)
		}
	}
	took := time.Since(start)
	if limit := 4 * (testKeepalive.KeepaliveInterval + testKeepalive.KeepaliveTimeout); took > limit {
		t.Errorf("calls failed %v after the server froze, want within %v", took, limit)
	}
	t.Logf("calls failed %v after the server froze", took)
	if _, err := c.Call(context.Background(), testComponent, mEcho, nil); transportKind(err) != codegen.ErrUnavailable {
		t.Errorf("call on the dead Conn returned %v, want ErrUnavailable", err)
	}
}

// Through a Pool, idempotent calls that were in flight to a frozen replica
// are retried on another one and succeed.
func TestKeepaliveFrozenReplicaFailsOver(t *testing.T) {
	path, proc := startChildServer(t)
	healthy := startServer(t, "unix", ServerOptions{})
	frozen := "unix://" + path
	pool := NewPool(PoolOptions{Dial: testKeepalive, DialTimeout: 500 * time.Millisecond}, StaticResolver{Addrs: []string{frozen, healthy.poolAddr()}})
	defer pool.Close()

	// Warm the pool until it holds a connection to each.
	var toFrozen *Conn
	waitFor(t, 5*time.Second, "connected to both replicas", func() bool {
		if _, err := pool.Call(context.Background(), testComponent, mEcho, encodeBytes(nil), true); err != nil {
			t.Fatal(err)
		}
		pool.mu.Lock()
		defer pool.mu.Unlock()
		toFrozen = pool.byAddr[frozen].conn
		return toFrozen != nil && pool.byAddr[healthy.poolAddr()].conn != nil
	})
	if err := proc.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}

	// Round robin sends half of them to the frozen replica.
	const n = 8
	before := healthy.calls.Load()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // bounds the test if calls hang
	defer cancel()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, err := pool.Call(ctx, testComponent, mSlow, encodeBytes([]byte("z")), true); err != nil {
				t.Errorf("idempotent call: %v", err)
			}
		})
	}
	wg.Wait()
	t.Logf("%d idempotent calls done %v after the replica froze", n, time.Since(start))
	if got := healthy.calls.Load() - before; got != n {
		t.Errorf("the healthy replica ran %d of %d calls", got, n)
	}
	select {
	case <-toFrozen.Done():
	default:
		t.Fatal("the connection to the frozen replica is still open")
	}
	toFrozen.mu.Lock()
	cause := toFrozen.err
	toFrozen.mu.Unlock()
	if !errors.Is(cause, errUnresponsive) {
		t.Errorf("the connection to the frozen replica died of %v, want server unresponsive", cause)
	}
}

// A handler that runs for longer than the keepalive timeout completes: the
// server answers pings while it runs. Once idle, the Conn stops pinging.
func TestKeepaliveSpareSlowHandler(t *testing.T) {
	ts := startServer(t, "unix", ServerOptions{})
	c := ts.dial(t, testKeepalive)
	d := 3 * (testKeepalive.KeepaliveInterval + testKeepalive.KeepaliveTimeout)
	if _, err := c.Call(context.Background(), testComponent, mSleep, sleepArgs(d)); err != nil {
		t.Fatalf("a call sleeping %v: %v", d, err)
	}
	c.mu.Lock()
	pings := c.ka.pings
	c.mu.Unlock()
	if pings < 3 {
		t.Errorf("%d pings during a %v call with a keepalive interval of %v", pings, d, testKeepalive.KeepaliveInterval)
	}
	waitFor(t, 5*time.Second, "idle", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return !c.ka.armed
	})
}
