package rpc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pilotage/pilotage/codegen"
)

// Regression tests for review findings: accept errors, peers that stop
// reading, frame limits and the end of a drain.

// failingListener fails its first accepts the way accept(2) does when the
// process or the system is out of file descriptors.
type failingListener struct {
	net.Listener
	mu    sync.Mutex
	fails []error // the errors of the next accepts
	n     int     // failed accepts so far
}

func (l *failingListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if len(l.fails) > 0 {
		err := l.fails[0]
		l.fails = l.fails[1:]
		l.n++
		l.mu.Unlock()
		return nil, &net.OpError{Op: "accept", Net: "unix", Err: os.NewSyscallError("accept4", err)}
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

func (l *failingListener) failNext(errs ...error) {
	l.mu.Lock()
	l.fails = append(l.fails, errs...)
	l.mu.Unlock()
}

func TestServeRetriesAcceptErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(ServerOptions{})
	th := newTestHandlers()
	if err := s.Register(testComponent, th.handlers()); err != nil {
		t.Fatal(err)
	}
	fl := &failingListener{Listener: l, fails: []error{syscall.EMFILE, syscall.ENFILE, syscall.EMFILE}}
	served := make(chan error, 1)
	go func() { served <- s.Serve(fl) }()

	// Serve keeps accepting: the connection is served once the errors pass.
	c, err := Dial(context.Background(), "unix", path, DialOptions{})
	if err != nil {
		t.Fatalf("Dial after accept errors: %v", err)
	}
	defer c.Close()
	if _, err := c.Call(context.Background(), testComponent, mEcho, encodeBytes([]byte("x"))); err != nil {
		t.Fatalf("call after accept errors: %v", err)
	}
	fl.mu.Lock()
	if fl.n != 3 {
		t.Errorf("%d failed accepts, want 3", fl.n)
	}
	fl.mu.Unlock()
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v", err)
	default:
	}

	// Close interrupts a backoff at once.
	fl.failNext(syscall.EMFILE, syscall.EMFILE, syscall.EMFILE, syscall.EMFILE, syscall.EMFILE, syscall.EMFILE, syscall.EMFILE, syscall.EMFILE)
	go net.Dial("unix", path) // wake the pending Accept; the next ones fail
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	s.Close()
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve returned %v after Close, want ErrServerClosed", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("Serve took %v to return after Close", d)
	}
}

func TestServeReturnsWhenListenerClosed(t *testing.T) {
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(ServerOptions{})
	defer s.Close()
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	time.Sleep(10 * time.Millisecond)
	l.Close()
	select {
	case err := <-served:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Serve returned %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after its listener was closed")
	}
}

// A stalledPeer handshakes like a server and then reads nothing until
// resume is closed; then it reads the frames it was sent into frames.
type stalledPeer struct {
	addr   string
	resume chan struct{}
	frames chan rawFrame
}

type rawFrame struct {
	h       header
	payload []byte
}

func newStalledPeer(t *testing.T) *stalledPeer {
	t.Helper()
	p := &stalledPeer{addr: filepath.Join(t.TempDir(), "s"), resume: make(chan struct{}), frames: make(chan rawFrame, 1024)}
	l, err := net.Listen("unix", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	quit := make(chan struct{})
	t.Cleanup(func() {
		close(quit)
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, nc)
			mu.Unlock()
			wg.Go(func() {
				br := bufio.NewReader(nc)
				if _, err := readPreface(br); err != nil {
					return
				}
				pre := preface(DefaultMaxFrameSize)
				nc.Write(pre[:])
				select {
				case <-p.resume:
				case <-quit:
					return
				}
				for {
					h, err := readHeader(br, DefaultMaxFrameSize)
					if err != nil {
						return
					}
					b, err := readPayload(br, h.n, nil)
					if err != nil {
						return
					}
					select {
					case p.frames <- rawFrame{h, b}:
					default:
					}
				}
			})
		}
	})
	return p
}

func (p *stalledPeer) dial(t *testing.T, opts DialOptions) *Conn {
	t.Helper()
	c, err := Dial(context.Background(), "unix", p.addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// callWithin runs a call and fails the test if it does not return within d.
func callWithin(t *testing.T, d time.Duration, c *Conn, ctx context.Context, args []byte) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := c.Call(ctx, testComponent, mEcho, args)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("call still blocked after %v", d)
		return nil
	}
}

// A call with large args whose deadline passes while the args are being
// written returns at once, and the bytes sent are those of the args at the
// time of the call, even though the caller reuses them after it returned.
func TestStalledPeerLargeArgsDetached(t *testing.T) {
	p := newStalledPeer(t)
	c := p.dial(t, DialOptions{})
	args := bytes.Repeat([]byte{0xab}, 8<<20)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := callWithin(t, time.Second, c, ctx, args); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("call returned %v, want DeadlineExceeded", err)
	}
	clear(args) // the caller may reuse args now

	close(p.resume)
	for f := range p.frames {
		if f.h.typ != frameRequest {
			continue
		}
		req, err := parseRequest(f.payload)
		if err != nil {
			t.Fatal(err)
		}
		if len(req.args) != 8<<20 || bytes.Count(req.args, []byte{0xab}) != len(req.args) {
			t.Fatalf("peer received %d bytes of args, not the %d the call was made with", len(req.args), 8<<20)
		}
		break
	}
	// The reply to the abandoned call, if any, is ignored; the conn works.
	if c.inFlight() != 0 {
		t.Errorf("%d calls in flight", c.inFlight())
	}
}

// Calls with small args keep their deadlines while the peer reads nothing,
// including the one whose goroutine was writing when the peer stalled.
func TestStalledPeerSmallArgsKeepDeadlines(t *testing.T) {
	p := newStalledPeer(t)
	c := p.dial(t, DialOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	callWithin(t, time.Second, c, ctx, make([]byte, 4<<20)) // fills the socket buffer
	args := make([]byte, 1000)
	for i := range 50 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		err := callWithin(t, 500*time.Millisecond, c, ctx, args)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("call %d returned %v, want DeadlineExceeded", i, err)
		}
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			if err := callWithin(t, time.Second, c, ctx, args); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("concurrent call returned %v, want DeadlineExceeded", err)
			}
		})
	}
	wg.Wait()
}

// Past MaxQueuedBytes of unwritten bytes, calls fail at once as unavailable.
func TestStalledPeerQueueLimit(t *testing.T) {
	p := newStalledPeer(t)
	c := p.dial(t, DialOptions{MaxQueuedBytes: 1 << 20})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	// An empty queue takes a frame of any size.
	if err := callWithin(t, time.Second, c, ctx, make([]byte, 4<<20)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("first call returned %v, want DeadlineExceeded", err)
	}
	err := callWithin(t, time.Second, c, context.Background(), make([]byte, 100))
	if !errors.Is(err, codegen.ErrUnavailable) || transportKind(err) != codegen.ErrUnavailable || !errors.Is(err, errQueueFull) {
		t.Errorf("call over the queue limit returned %v, want ErrUnavailable (queue full)", err)
	}
	c.q.mu.Lock()
	pending := c.q.appended - c.q.written
	c.q.mu.Unlock()
	if pending > 4<<20+1024 {
		t.Errorf("%d bytes queued", pending)
	}
	select {
	case <-c.Done():
		t.Error("a full queue killed the connection")
	default:
	}
}

// A peer that reads nothing for WriteTimeout is taken for dead. A call sent
// whole is interrupted; one cut off while being written, or never written,
// is unavailable.
func TestStalledPeerWriteTimeout(t *testing.T) {
	p := newStalledPeer(t)
	c := p.dial(t, DialOptions{WriteTimeout: 200 * time.Millisecond})
	calls := make([]chan error, 2)
	for i, n := range []int{100, 8 << 20} {
		calls[i] = make(chan error, 1)
		go func() {
			_, err := c.Call(context.Background(), testComponent, mEcho, make([]byte, n))
			calls[i] <- err
		}()
		for c.q.attempted.Load() < uint64(n) { // wait until it was handed to a write
			time.Sleep(time.Millisecond)
		}
	}
	start := time.Now()
	err := callWithin(t, 3*time.Second, c, context.Background(), make([]byte, 100))
	if !errors.Is(err, codegen.ErrUnavailable) || errors.Is(err, codegen.ErrInterrupted) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("call queued behind the stall returned %v, want ErrUnavailable (write timeout)", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("write timeout took %v", d)
	}
	for i, want := range []error{codegen.ErrInterrupted, codegen.ErrUnavailable} {
		select {
		case err := <-calls[i]:
			if transportKind(err) != want {
				t.Errorf("call %d returned %v, want %v", i, err, want)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("call %d did not return", i)
		}
	}
	select {
	case <-c.Done():
	case <-time.After(time.Second):
		t.Error("conn not dead after the write timeout")
	}
}

// A server whose client reads nothing closes the connection after its
// WriteTimeout and cancels the handlers.
func TestServerWriteTimeout(t *testing.T) {
	ts := startServer(t, "unix", ServerOptions{WriteTimeout: 200 * time.Millisecond})
	nc, err := net.Dial("unix", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	pre := preface(DefaultMaxFrameSize)
	nc.Write(pre[:])
	args := encodeBytes(make([]byte, 8<<20))
	var hdr [headerLen]byte
	putHeader(&hdr, frameRequest, requestPrefix+len(args), 1)
	var rp [requestPrefix]byte
	putRequestPrefix(rp[:], ComponentID(testComponent), mEcho, 0)
	if _, err := (&net.Buffers{hdr[:], rp[:], args}).WriteTo(nc); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // read nothing meanwhile
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(nc)
	if err != nil {
		t.Fatalf("read: %v (server did not close the connection)", err)
	}
	if len(got) >= prefaceLen+headerLen+len(args) {
		t.Errorf("server wrote its whole %d-byte reply", len(got))
	}
}

// With a small MaxQueuedBytes, handlers wait for room rather than fail.
func TestServerQueueLimitWaits(t *testing.T) {
	ts := startServer(t, "tcp", ServerOptions{MaxQueuedBytes: 16 << 10})
	c := ts.dial(t, DialOptions{MaxQueuedBytes: 16 << 10})
	in := bytes.Repeat([]byte("z"), 20<<10)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 10 {
				res, err := c.Call(context.Background(), testComponent, mEcho, encodeBytes(in))
				if errors.Is(err, errQueueFull) {
					continue // the client's own limit
				}
				if err != nil {
					t.Errorf("call: %v", err)
					return
				}
				if !bytes.Equal(decodeBytes(t, res), in) {
					t.Error("bad echo")
					return
				}
			}
		})
	}
	wg.Wait()
}

// Each side announces its frame limit; an oversized call or reply fails
// alone, without a transport error, and the connection and the calls on it
// carry on.
func TestOversizedArgsFailAlone(t *testing.T) {
	ts := startServer(t, "unix", ServerOptions{MaxFrameSize: 1 << 20})
	c := ts.dial(t, DialOptions{})
	if c.peer != 1<<20 {
		t.Fatalf("client saw a server limit of %d, want %d", c.peer, 1<<20)
	}
	ctx := context.Background()
	blocked := make(chan error, 1)
	go func() {
		_, err := c.Call(ctx, testComponent, mSlow, encodeBytes([]byte("x")))
		blocked <- err
	}()
	<-ts.started
	before := ts.calls.Load()
	_, err := c.Call(ctx, testComponent, mEcho, encodeBytes(make([]byte, 2<<20)))
	if !errors.Is(err, ErrTooLarge) || transportKind(err) != nil || errors.Is(err, codegen.ErrUnavailable) || errors.Is(err, codegen.ErrInterrupted) {
		t.Errorf("oversized call returned %v, want ErrTooLarge only", err)
	}
	if err == nil || !strings.Contains(err.Error(), "server's limit") || !strings.Contains(err.Error(), "1048576") {
		t.Errorf("error %v does not name the server's limit", err)
	}
	if err := <-blocked; err != nil {
		t.Errorf("concurrent call: %v", err)
	}
	// The largest args that fit go through.
	fit := make([]byte, 1<<20-requestPrefix-4) // 4: the length prefix of encodeBytes
	if _, err := c.Call(ctx, testComponent, mEcho, encodeBytes(fit)); err != nil {
		t.Errorf("call at the limit: %v", err)
	}
	if got := ts.calls.Load() - before; got != 1 {
		t.Errorf("server ran %d calls, want 1", got)
	}

	// Pool does not retry it.
	pool := NewPool(PoolOptions{}, StaticResolver{Addrs: []string{ts.poolAddr()}})
	defer pool.Close()
	before = ts.calls.Load()
	if _, err := pool.Call(ctx, testComponent, mEcho, encodeBytes(make([]byte, 2<<20)), true); !errors.Is(err, ErrTooLarge) {
		t.Errorf("pool call returned %v, want ErrTooLarge", err)
	}
	if got := ts.calls.Load() - before; got != 0 {
		t.Errorf("server ran %d oversized calls", got)
	}
}

func TestOversizedReplyFailsAlone(t *testing.T) {
	ts := startServer(t, "unix", ServerOptions{})
	c := ts.dial(t, DialOptions{MaxFrameSize: 1 << 20})
	ctx := context.Background()
	blocked := make(chan error, 1)
	go func() {
		_, err := c.Call(ctx, testComponent, mSlow, encodeBytes([]byte("x")))
		blocked <- err
	}()
	<-ts.started
	_, err := c.Call(ctx, testComponent, mEcho, encodeBytes(make([]byte, 2<<20)))
	if !errors.Is(err, ErrTooLarge) || transportKind(err) != nil {
		t.Errorf("oversized reply returned %v, want ErrTooLarge only", err)
	}
	if err == nil || !strings.Contains(err.Error(), "over the caller's limit of 1048576") {
		t.Errorf("error %v does not name the caller's limit", err)
	}
	if err := <-blocked; err != nil {
		t.Errorf("concurrent call: %v", err)
	}
	select {
	case <-c.Done():
		t.Error("connection closed")
	default:
	}
}

// During a Shutdown, every call either runs and succeeds or fails as
// unavailable: a request read late is refused before the connection closes,
// never cut off (ErrInterrupted) without having run.
func TestShutdownNeverInterruptsUnrunCalls(t *testing.T) {
	forNetworks(t, func(t *testing.T, network string) {
		for round := range 10 {
			ts := startServer(t, network, ServerOptions{})
			c := ts.dial(t, DialOptions{})
			var ok, unavail atomic.Int64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for g := range 16 {
				wg.Go(func() {
					args := encodeBytes(make([]byte, 100+g*500))
					for {
						select {
						case <-stop:
							return
						default:
						}
						_, err := c.Call(context.Background(), testComponent, mEcho, args)
						switch {
						case err == nil:
							ok.Add(1)
						case errors.Is(err, codegen.ErrUnavailable) && !errors.Is(err, codegen.ErrInterrupted):
							unavail.Add(1)
							if c.Draining() {
								select {
								case <-c.Done():
									return
								default:
								}
							}
						default:
							t.Errorf("round %d: call returned %v", round, err)
							return
						}
					}
				})
			}
			time.Sleep(time.Duration(5+round) * time.Millisecond)
			if err := ts.srv.Shutdown(context.Background()); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			close(stop)
			wg.Wait()
			if got := ts.calls.Load(); got != ok.Load() {
				t.Errorf("round %d: server ran %d calls, %d succeeded (%d unavailable)", round, got, ok.Load(), unavail.Load())
			}
		}
	})
}
