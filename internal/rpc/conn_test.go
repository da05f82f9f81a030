package rpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pilotage/pilotage/codegen"
)

func TestConcurrentCalls(t *testing.T) {
	forNetworks(t, func(t *testing.T, network string) {
		ts := startServer(t, network, ServerOptions{})
		c := ts.dial(t, DialOptions{})
		sizes := []int{0, 100, 10 << 10, 200, largePayload + 7} // large ones go by writev
		var wg sync.WaitGroup
		for g := range 64 {
			wg.Go(func() {
				for i := range 20 {
					n := sizes[(g+i)%len(sizes)]
					if g%16 == 0 && i == 0 {
						n = 300 << 10 // read in more than one buffer
					}
					in := bytes.Repeat([]byte{byte(g), byte(i)}, n/2)
					res, err := c.Call(context.Background(), testComponent, mEcho, encodeBytes(in))
					if err != nil {
						t.Errorf("call: %v", err)
						return
					}
					if out := decodeBytes(t, res); !bytes.Equal(in, out) {
						t.Errorf("echo of %d bytes returned %d different bytes", len(in), len(out))
						return
					}
				}
			})
		}
		wg.Wait()
	})
}

func TestDeadlinePropagation(t *testing.T) {
	forNetworks(t, func(t *testing.T, network string) {
		ts := startServer(t, network, ServerOptions{})
		c := ts.dial(t, DialOptions{})
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		errc := make(chan error, 1)
		go func() {
			_, err := c.Call(ctx, testComponent, mBlock, nil)
			errc <- err
		}()
		hctx := <-ts.blockCtx
		d, ok := hctx.Deadline()
		if !ok {
			t.Fatal("handler context has no deadline")
		}
		if left := time.Until(d); left <= 0 || left > 300*time.Millisecond+deadlineGrain {
			t.Errorf("handler deadline %v away, want within 300ms", left)
		}
		// What the handler derives sees the deadline as it would under a
		// context.WithTimeout of its own.
		child, cancelChild := context.WithCancel(context.WithValue(hctx, struct{}{}, 1))
		defer cancelChild()
		<-hctx.Done()
		<-child.Done()
		for name, ctx := range map[string]context.Context{"handler": hctx, "derived": child} {
			if ctx.Err() != context.DeadlineExceeded || context.Cause(ctx) != context.DeadlineExceeded {
				t.Errorf("%s ctx error %v, cause %v; want DeadlineExceeded", name, ctx.Err(), context.Cause(ctx))
			}
		}
		if err := <-errc; !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Call returned %v, want DeadlineExceeded", err)
		}
	})
}

func TestCancelReachesHandler(t *testing.T) {
	forNetworks(t, func(t *testing.T, network string) {
		ts := startServer(t, network, ServerOptions{})
		c := ts.dial(t, DialOptions{})
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := c.Call(ctx, testComponent, mBlock, nil)
			errc <- err
		}()
		hctx := <-ts.blockCtx
		if _, ok := hctx.Deadline(); ok {
			t.Error("handler has a deadline; caller set none")
		}
		start := time.Now()
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("Call returned %v, want Canceled", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("Call took %v to return after cancel", d)
		}
		select {
		case <-hctx.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("handler context not cancelled")
		}
		// The connection stays usable.
		if _, err := c.Call(context.Background(), testComponent, mEcho, encodeBytes([]byte("x"))); err != nil {
			t.Fatal(err)
		}
		if n := c.inFlight(); n != 0 {
			t.Errorf("%d calls left in flight", n)
		}
	})
}

func TestServerKilledMidCall(t *testing.T) {
	forNetworks(t, func(t *testing.T, network string) {
		ts := startServer(t, network, ServerOptions{})
		c := ts.dial(t, DialOptions{})
		errc := make(chan error, 1)
		go func() {
			_, err := c.Call(context.Background(), testComponent, mBlock, nil)
			errc <- err
		}()
		<-ts.blockCtx
		ts.srv.Close()
		err := <-errc
		if !errors.Is(err, codegen.ErrInterrupted) || errors.Is(err, codegen.ErrUnavailable) {
			t.Errorf("Call returned %v, want ErrInterrupted only", err)
		}
		select {
		case <-c.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("Done not closed")
		}
		if _, err := c.Call(context.Background(), testComponent, mEcho, nil); !errors.Is(err, codegen.ErrUnavailable) {
			t.Errorf("Call on dead conn returned %v, want ErrUnavailable", err)
		}
	})
}

func TestDialFailure(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	for _, tc := range []struct{ network, addr string }{
		{"tcp", addr},
		{"unix", t.TempDir() + "/missing"},
	} {
		_, err := Dial(context.Background(), tc.network, tc.addr, DialOptions{})
		if !errors.Is(err, codegen.ErrUnavailable) {
			t.Errorf("Dial(%s, %s) returned %v, want ErrUnavailable", tc.network, tc.addr, err)
		}
	}

	// A listener that never answers the handshake.
	l, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			defer c.Close()
			io.Copy(io.Discard, c)
		}
	}()
	start := time.Now()
	_, err = Dial(context.Background(), "tcp", l.Addr().String(), DialOptions{HandshakeTimeout: 100 * time.Millisecond})
	if !errors.Is(err, codegen.ErrUnavailable) || time.Since(start) > 2*time.Second {
		t.Errorf("Dial to a silent peer returned %v after %v", err, time.Since(start))
	}
}

func TestHandlerErrors(t *testing.T) {
	ts := startServer(t, "unix", ServerOptions{})
	c := ts.dial(t, DialOptions{})
	ctx := context.Background()

	_, err := c.Call(ctx, testComponent, mPanic, nil)
	if !errors.Is(err, codegen.ErrPanic) || transportKind(err) != nil {
		t.Errorf("panic: got %v, want ErrPanic", err)
	}
	_, err = c.Call(ctx, testComponent, mBoom, nil)
	if !errors.Is(err, errBoom) || err.Error() != "wrapped: boom" {
		t.Errorf("error: got %v, want errBoom", err)
	}
	_, err = c.Call(ctx, "no.Such", 0, nil)
	if !errors.Is(err, codegen.ErrUnavailable) {
		t.Errorf("unknown component: got %v, want ErrUnavailable", err)
	}
	_, err = c.Call(ctx, testComponent, 99, nil)
	if err == nil || errors.Is(err, codegen.ErrUnavailable) {
		t.Errorf("unknown method: got %v, want a plain error", err)
	}
	_, err = c.Call(ctx, testComponent, mEcho, []byte{1, 2}) // undecodable args
	if err == nil || !strings.Contains(err.Error(), "malformed") || transportKind(err) != nil {
		t.Errorf("bad args: got %v, want ErrMalformed", err)
	}

	ts.srv.Unregister(testComponent)
	if _, err := c.Call(ctx, testComponent, mEcho, nil); !errors.Is(err, codegen.ErrUnavailable) {
		t.Errorf("after Unregister: got %v, want ErrUnavailable", err)
	}
	if err := ts.srv.Register(testComponent, ts.handlers()); err != nil {
		t.Fatal(err)
	}
	if err := ts.srv.Register(testComponent, ts.handlers()); err == nil {
		t.Error("second Register of the same name succeeded")
	}
	if _, err := c.Call(ctx, testComponent, mEcho, encodeBytes(nil)); err != nil {
		t.Errorf("after re-Register: %v", err)
	}
}

func TestOversizedFrame(t *testing.T) {
	forNetworks(t, func(t *testing.T, network string) {
		ts := startServer(t, network, ServerOptions{MaxFrameSize: 1 << 10})

		// Through the client: refused before it is sent, not as a transport
		// error, and the connection stays usable.
		c := ts.dial(t, DialOptions{})
		_, err := c.Call(context.Background(), testComponent, mEcho, encodeBytes(make([]byte, 4<<10)))
		if !errors.Is(err, ErrTooLarge) || transportKind(err) != nil || !strings.Contains(err.Error(), "server's limit") {
			t.Errorf("oversized call returned %v, want ErrTooLarge naming the server's limit", err)
		}
		if _, err := c.Call(context.Background(), testComponent, mEcho, encodeBytes([]byte("x"))); err != nil {
			t.Errorf("call after an oversized one: %v", err)
		}

		// Raw: a header claiming 1 GiB, and no payload.
		nc, err := net.Dial(network, ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		p := preface(DefaultMaxFrameSize)
		var hdr [headerLen]byte
		putHeader(&hdr, frameRequest, 1<<30, 1)
		nc.Write(append(p[:], hdr[:]...))
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, err := io.ReadAll(nc) // the server's preface, then EOF
		if sp := preface(1 << 10); err != nil || !bytes.Equal(got, sp[:]) {
			t.Errorf("server sent %q, %v; want its preface then EOF", got, err)
		}
	})
}

func TestOversizedReply(t *testing.T) {
	ts := startServer(t, "tcp", ServerOptions{})
	c := ts.dial(t, DialOptions{MaxFrameSize: 1 << 10})
	_, err := c.Call(context.Background(), testComponent, mEcho, encodeBytes(make([]byte, 4<<10)))
	if !errors.Is(err, ErrTooLarge) || transportKind(err) != nil || !strings.Contains(err.Error(), "over the caller's limit of 1024") {
		t.Errorf("oversized reply: got %v, want ErrTooLarge naming the caller's limit", err)
	}
	if _, err := c.Call(context.Background(), testComponent, mEcho, encodeBytes([]byte("x"))); err != nil {
		t.Errorf("call after an oversized reply: %v", err)
	}
}

func TestBadPreface(t *testing.T) {
	ts := startServer(t, "tcp", ServerOptions{})
	small := preface(MinMaxFrameSize - 1)
	for _, tc := range []struct {
		pre       string
		closeSend bool // the server needs more bytes to decide
	}{
		{"HTTP/1.1", false},
		{"PLTG\x01\x00\x00\x00", false},                 // version 1: refused without waiting for more
		{"PLTG\x02\x00\x00\x00", false},                 // version 2: had no ping
		{"PLTG\x03\x00\x00\x00\x00\x00\x01\x00", false}, // version 3: had no deployment
		{"PLTG\x04\x00\x00\x00\x00\x00\x01\x00", false}, // version 4: had no trace context
		{"PLTG\x06\x00\x00\x00\x00\x00\x01\x00", false},
		{string(small[:]), false},
		{"PLT", true},
		{"PLTG\x05\x00\x00\x00\x00", true},
		{"PLTG\x05\x00\x00\x00\x00\x00\x01\x00\x05abc", true}, // deployment cut short
	} {
		pre := tc.pre
		nc, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		nc.Write([]byte(pre))
		if tc.closeSend {
			nc.(*net.TCPConn).CloseWrite()
		}
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, err := io.ReadAll(nc)
		if err != nil || len(got) != 0 {
			t.Errorf("preface %q: server sent %q, %v; want EOF", pre, got, err)
		}
		nc.Close()
	}
}

func TestShutdownDrains(t *testing.T) {
	forNetworks(t, func(t *testing.T, network string) {
		a := startServer(t, network, ServerOptions{})
		b := startServer(t, network, ServerOptions{})
		c := a.dial(t, DialOptions{})
		pool := NewPool(PoolOptions{}, StaticResolver{Addrs: []string{a.poolAddr(), b.poolAddr()}})
		defer pool.Close()
		ctx := context.Background()

		// Warm the pool so it holds a connection to a.
		for range 4 {
			if _, err := pool.Call(ctx, testComponent, mEcho, encodeBytes(nil), false); err != nil {
				t.Fatal(err)
			}
		}

		in := []byte("in flight")
		slow := make(chan error, 1)
		go func() {
			res, err := c.Call(ctx, testComponent, mSlow, encodeBytes(in))
			if err == nil && !bytes.Equal(decodeBytes(t, res), in) {
				err = fmt.Errorf("slow call returned %q", res)
			}
			slow <- err
		}()
		<-a.started
		shut := make(chan error, 1)
		go func() { shut <- a.srv.Shutdown(ctx) }()

		deadline := time.Now().Add(5 * time.Second)
		for !c.Draining() && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if !c.Draining() {
			t.Fatal("conn not draining after Shutdown")
		}
		if _, err := c.Call(ctx, testComponent, mEcho, encodeBytes(nil)); !errors.Is(err, codegen.ErrUnavailable) {
			t.Errorf("new call on draining conn returned %v, want ErrUnavailable", err)
		}
		// Pool calls, not idempotent, all succeed: a refuses them unrun, b serves them.
		before := b.calls.Load()
		for range 10 {
			if _, err := pool.Call(ctx, testComponent, mEcho, encodeBytes(nil), false); err != nil {
				t.Errorf("pool call during drain: %v", err)
			}
		}
		if got := b.calls.Load() - before; got != 10 {
			t.Errorf("b served %d of 10 pool calls", got)
		}
		if err := <-slow; err != nil {
			t.Errorf("in-flight call: %v", err)
		}
		if err := <-shut; err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		select {
		case <-c.Done():
		case <-time.After(5 * time.Second):
			t.Error("conn not closed after Shutdown")
		}
	})
}

func TestShutdownTimeout(t *testing.T) {
	ts := startServer(t, "unix", ServerOptions{})
	c := ts.dial(t, DialOptions{})
	errc := make(chan error, 1)
	go func() {
		_, err := c.Call(context.Background(), testComponent, mBlock, nil)
		errc <- err
	}()
	<-ts.blockCtx
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown returned %v, want DeadlineExceeded", err)
	}
	if err := <-errc; !errors.Is(err, codegen.ErrInterrupted) {
		t.Errorf("blocked call returned %v, want ErrInterrupted", err)
	}
}
