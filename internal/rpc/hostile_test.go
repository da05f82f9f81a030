package rpc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/pilotage/pilotage/codegen"
)

// Regression tests for hostile peers: connections that announce more than
// they send, or stall before, inside or between frames.

// allocatedDuring returns the bytes the process allocated while f ran (all
// of them, freed or not: a bound on the memory f's work ever held).
func allocatedDuring(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// rawHandshake dials the server and exchanges prefaces by hand.
func rawHandshake(t *testing.T, ts *testServer) net.Conn {
	t.Helper()
	nc, err := net.Dial(ts.network, ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	pre := preface(DefaultMaxFrameSize)
	if _, err := nc.Write(pre[:]); err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := readPreface(nc); err != nil {
		t.Fatalf("server preface: %v", err)
	}
	return nc
}

// waitClosed waits up to d for the server to close each of conns, reading
// and discarding what it sends, and fails the test for any still open.
func waitClosed(t *testing.T, conns []net.Conn, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for i, nc := range conns {
		nc.SetReadDeadline(deadline)
		if _, err := io.Copy(io.Discard, nc); err != nil {
			t.Fatalf("connection %d of %d not closed by the server within %v: %v", i, len(conns), d, err)
		}
	}
}

// Connections that announce a 64 MiB frame and send 10 bytes of it cost the
// server memory for what they sent, not for what they announced, and are
// closed once the frame stalls for FrameTimeout.
func TestStalledFramesCostWhatTheySent(t *testing.T) {
	const n, frameTimeout = 300, 300 * time.Millisecond
	ts := startServer(t, "unix", ServerOptions{FrameTimeout: frameTimeout})
	var conns []net.Conn
	var start time.Time
	alloc := allocatedDuring(func() {
		for range n {
			nc := rawHandshake(t, ts)
			var hdr [headerLen]byte
			putHeader(&hdr, frameRequest, 64<<20, 1)
			if _, err := nc.Write(append(hdr[:], make([]byte, 10)...)); err != nil {
				t.Fatal(err)
			}
			conns = append(conns, nc)
		}
		start = time.Now()
		waitClosed(t, conns, 10*time.Second)
	})
	took := time.Since(start)
	// Per connection: the 64 KiB read buffer, the first 4 KiB of the
	// payload, and a few small structures on both sides; before the fix,
	// 1 MiB more of payload buffer.
	if per := alloc / n; per > 100<<10 {
		t.Errorf("the server allocated %d KiB per connection that sent 26 bytes (%d MiB for %d)", per>>10, alloc>>20, n)
	}
	t.Logf("%d stalled connections: %d KiB allocated per connection; all closed %v after the last was opened", n, alloc/n>>10, took)
}

// Connections that never complete the handshake cost next to nothing (no
// read buffer) and are closed after HandshakeTimeout, whether they sent
// nothing or part of a preface.
func TestHandshakeStallsCostLittle(t *testing.T) {
	const n, timeout = 200, 300 * time.Millisecond
	ts := startServer(t, "unix", ServerOptions{HandshakeTimeout: timeout})
	pre := preface(DefaultMaxFrameSize)
	var conns []net.Conn
	alloc := allocatedDuring(func() {
		for i := range n {
			nc, err := net.Dial("unix", ts.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if i%2 == 1 { // inside the handshake: the first 8 bytes of a preface
				if _, err := nc.Write(pre[:prefaceHead]); err != nil {
					t.Fatal(err)
				}
			}
			conns = append(conns, nc)
		}
		waitClosed(t, conns, 10*time.Second)
	})
	if per := alloc / n; per > 16<<10 {
		t.Errorf("the server allocated %d KiB per connection stalled in the handshake (%d KiB for %d)", per>>10, alloc>>10, n)
	}
	t.Logf("%d connections stalled in the handshake: %d bytes allocated per connection", n, alloc/n)
}

// A client whose server stalls in the middle of the handshake gives up after
// HandshakeTimeout.
func TestDialHalfPreface(t *testing.T) {
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		nc, err := l.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		pre := preface(DefaultMaxFrameSize)
		nc.Write(pre[:prefaceHead])
		io.Copy(io.Discard, nc)
	}()
	start := time.Now()
	_, err = Dial(context.Background(), "unix", l.Addr().String(), DialOptions{HandshakeTimeout: 200 * time.Millisecond})
	if !errors.Is(err, codegen.ErrUnavailable) {
		t.Errorf("Dial returned %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Dial gave up after %v", d)
	}
}

// The frame timeout bounds stalls inside a frame, not idle connections nor
// frames whose bytes keep arriving, however long they take in all.
func TestFrameTimeoutSparesIdleAndSlowFrames(t *testing.T) {
	const frameTimeout = 200 * time.Millisecond
	ts := startServer(t, "unix", ServerOptions{FrameTimeout: frameTimeout})

	// Idle for longer than the timeout, between frames, on both sides.
	c := ts.dial(t, DialOptions{FrameTimeout: frameTimeout})
	if _, err := c.Call(context.Background(), testComponent, mEcho, encodeBytes([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * frameTimeout)
	if _, err := c.Call(context.Background(), testComponent, mEcho, encodeBytes([]byte("y"))); err != nil {
		t.Errorf("call on a connection idle for %v: %v", 3*frameTimeout, err)
	}

	// A request trickled in 10 pieces over 2.5 timeouts.
	nc := rawHandshake(t, ts)
	in := bytes.Repeat([]byte("t"), 1000)
	f := frame(frameRequest, 1, requestPayload(testComponent, mEcho, 0, encodeBytes(in)))
	for i := range 10 {
		if _, err := nc.Write(f[i*len(f)/10 : (i+1)*len(f)/10]); err != nil {
			t.Fatalf("piece %d: %v", i, err)
		}
		time.Sleep(frameTimeout / 4)
	}
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var hdr [headerLen]byte
	if _, err := io.ReadFull(nc, hdr[:]); err != nil {
		t.Fatalf("no reply to a trickled request: %v", err)
	}
	h, err := parseHeader(hdr[:], DefaultMaxFrameSize)
	if err != nil || h.typ != frameResponse || h.id != 1 {
		t.Fatalf("reply to a trickled request: %+v, %v", h, err)
	}

	// A header cut short is a stalled frame too.
	nc = rawHandshake(t, ts)
	putHeader(&hdr, frameRequest, 100, 2)
	nc.Write(hdr[:10])
	start := time.Now()
	waitClosed(t, []net.Conn{nc}, 5*time.Second)
	if d := time.Since(start); d < frameTimeout/2 {
		t.Errorf("connection closed %v after a partial header, before the frame timeout", d)
	}
}

// A client whose server stalls in the middle of a reply fails the call as
// interrupted after its FrameTimeout, even with no keepalive.
func TestClientFrameTimeout(t *testing.T) {
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		nc, err := l.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		if _, err := readPreface(nc); err != nil {
			return
		}
		pre := preface(DefaultMaxFrameSize)
		nc.Write(pre[:])
		var req [headerLen + requestPrefix]byte
		if _, err := io.ReadFull(nc, req[:]); err != nil {
			return
		}
		h, _ := parseHeader(req[:], DefaultMaxFrameSize)
		var hdr [headerLen]byte
		putHeader(&hdr, frameResponse, 1<<20, h.id)
		nc.Write(append(hdr[:], "partial"...))
		io.Copy(io.Discard, nc)
	}()
	c, err := Dial(context.Background(), "unix", l.Addr().String(), DialOptions{FrameTimeout: 200 * time.Millisecond, KeepaliveInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = callWithin(t, 5*time.Second, c, context.Background(), nil)
	if transportKind(err) != codegen.ErrInterrupted || !errors.Is(err, errFrameStalled) {
		t.Errorf("call returned %v, want ErrInterrupted (frame stalled)", err)
	}
}
