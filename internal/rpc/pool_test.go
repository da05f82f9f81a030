package rpc

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pilotage/pilotage/codegen"
)

func TestPoolOneServerClosed(t *testing.T) {
	forNetworks(t, func(t *testing.T, network string) {
		a := startServer(t, network, ServerOptions{})
		b := startServer(t, network, ServerOptions{})
		pool := NewPool(PoolOptions{}, StaticResolver{Addrs: []string{a.poolAddr(), b.poolAddr()}})
		defer pool.Close()

		var ok, failed atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					_, err := pool.Call(ctx, testComponent, mEcho, encodeBytes([]byte("hi")), true)
					cancel()
					if err != nil {
						failed.Add(1)
						t.Errorf("call: %v", err)
					} else {
						ok.Add(1)
					}
				}
			})
		}
		time.Sleep(100 * time.Millisecond)
		servedByA := a.calls.Load()
		a.srv.Close()
		time.Sleep(200 * time.Millisecond)
		close(stop)
		wg.Wait()
		if servedByA == 0 {
			t.Error("a served no call before it closed")
		}
		if failed.Load() != 0 || ok.Load() == 0 {
			t.Errorf("%d calls failed, %d succeeded", failed.Load(), ok.Load())
		}
	})
}

func TestPoolRetriesInterruptedOnlyIfIdempotent(t *testing.T) {
	for _, retry := range []bool{false, true} {
		a := startServer(t, "unix", ServerOptions{})
		b := startServer(t, "unix", ServerOptions{})
		var first atomic.Bool // shared: only the first invocation blocks
		a.blockFirst, b.blockFirst = &first, &first
		pool := NewPool(PoolOptions{}, StaticResolver{Addrs: []string{a.poolAddr(), b.poolAddr()}})
		defer pool.Close()

		errc := make(chan error, 1)
		go func() {
			_, err := pool.Call(context.Background(), testComponent, mBlockFirst, encodeBytes(nil), retry)
			errc <- err
		}()
		// Kill the connections of whichever server got the call.
		select {
		case <-a.blockCtx:
			killConns(a.srv)
		case <-b.blockCtx:
			killConns(b.srv)
		}
		err := <-errc
		runs := a.calls.Load() + b.calls.Load()
		switch {
		case !retry && (!errors.Is(err, codegen.ErrInterrupted) || runs != 1):
			t.Errorf("not idempotent: got %v after %d runs, want ErrInterrupted after 1", err, runs)
		case retry && (err != nil || runs != 2):
			t.Errorf("idempotent: got %v after %d runs, want success after 2", err, runs)
		}
	}
}

// killConns drops a server's connections, as a crash would, but keeps it listening.
func killConns(s *Server) {
	s.mu.Lock()
	var conns []*serverConn
	for sc := range s.conns {
		conns = append(conns, sc)
	}
	s.mu.Unlock()
	for _, sc := range conns {
		sc.close(errors.New("killed"))
	}
}

func TestPoolDoesNotRetryMethodErrors(t *testing.T) {
	a := startServer(t, "unix", ServerOptions{})
	b := startServer(t, "unix", ServerOptions{})
	pool := NewPool(PoolOptions{}, StaticResolver{Addrs: []string{a.poolAddr(), b.poolAddr()}})
	defer pool.Close()
	_, err := pool.Call(context.Background(), testComponent, mUnavail, nil, true)
	if !errors.Is(err, codegen.ErrUnavailable) {
		t.Errorf("got %v, want the method's ErrUnavailable", err)
	}
	if got := a.calls.Load() + b.calls.Load(); got != 1 {
		t.Errorf("method ran %d times, want 1: its own error is not a transport failure", got)
	}
}

func TestPoolNoUsableAddress(t *testing.T) {
	ctx := context.Background()
	r := newManualResolver()
	pool := NewPool(PoolOptions{}, r)
	defer pool.Close()
	if _, err := pool.Call(ctx, testComponent, mEcho, nil, true); !errors.Is(err, codegen.ErrUnavailable) {
		t.Errorf("empty pool: got %v, want ErrUnavailable", err)
	}
	dir := t.TempDir()
	r.update(t, pool, []string{dir + "/a", "unix://" + dir + "/b"}, Outage{})
	for i := range 3 {
		start := time.Now()
		_, err := pool.Call(ctx, testComponent, mEcho, nil, true)
		if !errors.Is(err, codegen.ErrUnavailable) {
			t.Errorf("unreachable pool: got %v, want ErrUnavailable", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("call %d took %v to fail", i, d)
		}
	}

	// Once a server appears at an address, the pool reaches it after its backoff.
	ts := startServer(t, "unix", ServerOptions{})
	r.update(t, pool, []string{dir + "/a", ts.addr}, Outage{})
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := pool.Call(ctx, testComponent, mEcho, encodeBytes(nil), true)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pool never reached the new server: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPoolDrainsRemoved(t *testing.T) {
	a := startServer(t, "tcp", ServerOptions{})
	b := startServer(t, "tcp", ServerOptions{})
	r := newManualResolver(a.addr)
	pool := NewPool(PoolOptions{}, r)
	defer pool.Close()
	ctx := context.Background()
	slow := make(chan error, 1)
	go func() {
		_, err := pool.Call(ctx, testComponent, mSlow, encodeBytes(nil), false)
		slow <- err
	}()
	<-a.started
	r.update(t, pool, []string{b.addr}, Outage{})
	for range 5 {
		if _, err := pool.Call(ctx, testComponent, mEcho, encodeBytes(nil), false); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-slow; err != nil {
		t.Errorf("in-flight call on removed address: %v", err)
	}
	if got := a.calls.Load(); got != 1 {
		t.Errorf("removed address served %d calls, want only the one in flight", got)
	}
}

func TestSplitAddr(t *testing.T) {
	for addr, want := range map[string][2]string{
		"unix:///run/a.sock": {"unix", "/run/a.sock"},
		"unix:/run/a.sock":   {"unix", "/run/a.sock"},
		"/run/a.sock":        {"unix", "/run/a.sock"},
		"tcp://127.0.0.1:80": {"tcp", "127.0.0.1:80"},
		"tcp:127.0.0.1:80":   {"tcp", "127.0.0.1:80"},
		"127.0.0.1:80":       {"tcp", "127.0.0.1:80"},
	} {
		if n, a := splitAddr(addr); n != want[0] || a != want[1] {
			t.Errorf("splitAddr(%q) = %q, %q; want %q, %q", addr, n, a, want[0], want[1])
		}
	}
}

// A component without addresses fails its callers at once with an error
// naming it and the outage's reason.
func TestPoolOutageFailsFast(t *testing.T) {
	pool := NewPool(PoolOptions{}, StaticResolver{Outage: Outage{Reason: "stopped by pilotage stop"}})
	defer pool.Close()
	start := time.Now()
	_, err := pool.Call(context.Background(), testComponent, mEcho, nil, true)
	if !errors.Is(err, codegen.ErrUnavailable) {
		t.Fatalf("call: %v, want ErrUnavailable", err)
	}
	if want := "component rpc.Test is unavailable: stopped by pilotage stop"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v: a stopped component must fail at once", d)
	}
}

// While the outage is transient, a call waits for an address, and goes
// through once one appears.
func TestPoolTransientOutageWaits(t *testing.T) {
	ts := startServer(t, "unix", ServerOptions{})
	r := newManualResolver()
	r.set(nil, Outage{Reason: "restarting", Transient: true})
	pool := NewPool(PoolOptions{}, r)
	defer pool.Close()
	time.AfterFunc(200*time.Millisecond, func() { r.set([]string{ts.poolAddr()}, Outage{}) })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	res, err := pool.Call(ctx, testComponent, mEcho, encodeBytes([]byte("hi")), false)
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	if got := decodeBytes(t, res); string(got) != "hi" {
		t.Errorf("got %q", got)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("returned after %v, before the address appeared", d)
	}
}

// A transient outage that lasts is waited out for MaxWait at most, or
// until the caller's deadline if that comes first.
func TestPoolTransientOutageBounded(t *testing.T) {
	pool := NewPool(PoolOptions{MaxWait: 300 * time.Millisecond}, StaticResolver{Outage: Outage{Reason: "restarting", Transient: true}})
	defer pool.Close()
	start := time.Now()
	_, err := pool.Call(context.Background(), testComponent, mEcho, nil, true)
	if d := time.Since(start); d < 250*time.Millisecond || d > 3*time.Second {
		t.Errorf("gave up after %v, want about 300ms", d)
	}
	if !errors.Is(err, codegen.ErrUnavailable) || !strings.Contains(err.Error(), "restarting (no replica came back within 300ms)") {
		t.Errorf("error %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := pool.Call(ctx, testComponent, mEcho, nil, true); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("with a 50ms deadline: %v, want DeadlineExceeded", err)
	}
	// A change to a permanent outage ends the wait at once.
	r := newManualResolver()
	r.set(nil, Outage{Reason: "restarting", Transient: true})
	pool2 := NewPool(PoolOptions{}, r)
	defer pool2.Close()
	time.AfterFunc(100*time.Millisecond, func() { r.set(nil, Outage{Reason: "failed"}) })
	start = time.Now()
	_, err = pool2.Call(context.Background(), testComponent, mEcho, nil, true)
	if d := time.Since(start); d > 3*time.Second || err == nil || !strings.HasSuffix(err.Error(), "is unavailable: failed") {
		t.Errorf("after %v: %v", d, err)
	}
}
