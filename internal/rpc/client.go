package rpc

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/pilotage/pilotage/codegen"
)

// DialOptions configure a client connection. The zero value is usable.
type DialOptions struct {
	// Deployment identifies the build this process runs (for pilotage run,
	// "<app>-<12 hex digits of the binary's sha256>"), at most
	// MaxDeploymentLen bytes; Dial fails for a longer one. It is sent in the
	// handshake, and a server announcing another deployment is refused: its
	// method indexes and value layouts may differ from ours. Empty matches
	// only an empty server Deployment.
	Deployment string
	// MaxFrameSize bounds the payload of a frame read from the server
	// (default DefaultMaxFrameSize, at least MinMaxFrameSize). It is
	// announced in the handshake: the server answers a call whose results
	// are larger with an error rather than send them.
	MaxFrameSize int
	// HandshakeTimeout bounds connecting plus the protocol handshake when
	// ctx has no earlier deadline (default DefaultHandshakeTimeout).
	HandshakeTimeout time.Duration
	// WriteTimeout bounds one flush of the send queue (default
	// DefaultWriteTimeout). A server that reads nothing for that long is
	// taken for dead: the connection is closed and its calls fail.
	WriteTimeout time.Duration
	// MaxQueuedBytes bounds the bytes queued but not yet written (default
	// DefaultMaxQueuedBytes, at least twice the server's frame limit). A call
	// that would pass it fails at once with codegen.ErrUnavailable (nothing
	// was sent); a call is always accepted when nothing is queued.
	MaxQueuedBytes int
	// FrameTimeout bounds how long a frame from the server may stall: once
	// its first byte has arrived, each of the next must arrive within it, or
	// the connection dies (default DefaultFrameTimeout; negative: no bound).
	// The wait for a frame to begin is not bounded.
	FrameTimeout time.Duration
	// KeepaliveInterval is how long a Conn with calls in flight waits
	// without reading anything from the server before it sends a ping, which
	// the server answers at once, however long its handlers run (default
	// DefaultKeepaliveInterval; negative: no pings). An idle Conn sends none.
	KeepaliveInterval time.Duration
	// KeepaliveTimeout is how long, once a ping was written, the Conn waits
	// for the server to send anything before it takes the server for frozen
	// and dies: its calls fail with codegen.ErrInterrupted (or
	// ErrUnavailable if not yet sent) rather than hang (default
	// DefaultKeepaliveTimeout).
	KeepaliveTimeout time.Duration
}

func (o *DialOptions) setDefaults() {
	o.MaxFrameSize = clampFrameSize(o.MaxFrameSize)
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.FrameTimeout == 0 {
		o.FrameTimeout = DefaultFrameTimeout
	}
	if o.KeepaliveInterval == 0 {
		o.KeepaliveInterval = DefaultKeepaliveInterval
	}
	if o.KeepaliveTimeout <= 0 {
		o.KeepaliveTimeout = DefaultKeepaliveTimeout
	}
}

// queueLimit is the send queue limit for a peer accepting frames of peerMax.
func queueLimit(opt, peerMax int) int {
	if opt > 0 {
		return opt
	}
	return max(DefaultMaxQueuedBytes, 2*(headerLen+peerMax))
}

const readBufferSize = 64 << 10

// A Conn is one multiplexed client connection. Its methods are safe for
// concurrent use.
type Conn struct {
	addr   string
	nc     net.Conn
	fr     *frameReader // under the reader goroutine's bufio.Reader
	q      *sendQueue
	max    int // largest payload we read
	peer   int // largest payload the server reads
	nextID atomic.Uint64

	mu        sync.Mutex
	calls     map[uint64]*call // in flight, by id
	draining  bool             // no new calls
	idleClose bool             // close once no call is in flight
	goAway    uint64           // requests ending past this stream offset were never run (valid if gotGoAway)
	gotGoAway bool
	err       error // why the connection died
	ka        keepalive

	dieOnce sync.Once
	done    chan struct{}
}

// A call is one outstanding request. Whoever removes it from Conn.calls
// completes it: sets res/err and sends on ch.
type call struct {
	id  uint64
	ch  chan struct{} // capacity 1, empty while pooled
	res []byte
	err error
	end atomic.Uint64 // stream offset of the request's end; MaxUint64 until queued
	wr  chan struct{} // capacity 1: the uncopied args were written (or dropped)
}

// release tells Call that the send queue no longer references its args.
func (cl *call) release() { cl.wr <- struct{}{} }

var callPool = sync.Pool{New: func() any { return &call{ch: make(chan struct{}, 1), wr: make(chan struct{}, 1)} }}

// Dial connects to a Server and performs the handshake. Failures wrap
// codegen.ErrUnavailable, and also ErrDeploymentMismatch if the server runs
// another deployment; only an invalid opts.Deployment fails otherwise.
func Dial(ctx context.Context, network, address string, opts DialOptions) (*Conn, error) {
	if err := checkDeployment("DialOptions.Deployment", opts.Deployment); err != nil {
		return nil, err
	}
	opts.setDefaults()
	hctx, cancel := context.WithTimeout(ctx, opts.HandshakeTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(hctx, network, address)
	if err != nil {
		return nil, unavailable(address, fmt.Errorf("dial: %w", err))
	}
	peer, err := clientHandshake(hctx, nc, opts.MaxFrameSize, opts.Deployment)
	if err == nil && peer.deployment != opts.Deployment {
		err = fmt.Errorf("handshake: %w", deploymentMismatch("server", address, peer.deployment, "this process", opts.Deployment))
	}
	if err != nil {
		nc.Close()
		return nil, unavailable(address, err)
	}
	return newConn(nc, address, opts, peer.maxFrame), nil
}

// newConn starts serving a handshaken client connection to a server that
// accepts payloads of up to peer bytes. opts have their defaults set.
func newConn(nc net.Conn, addr string, opts DialOptions, peer int) *Conn {
	c := &Conn{addr: addr, nc: nc, fr: newFrameReader(nc, opts.FrameTimeout), max: opts.MaxFrameSize, peer: peer, calls: map[uint64]*call{}, done: make(chan struct{})}
	c.ka.interval, c.ka.timeout = max(opts.KeepaliveInterval, 0), opts.KeepaliveTimeout
	c.q = newSendQueue(nc, opts.WriteTimeout, queueLimit(opts.MaxQueuedBytes, peer), func(err error) { c.die(fmt.Errorf("write: %w", err)) })
	go c.readLoop(bufio.NewReaderSize(c.fr, readBufferSize))
	return c
}

// clientHandshake exchanges prefaces and returns the server's. The server's
// preface is read straight from nc, which holds no read buffer until the
// handshake is done.
func clientHandshake(ctx context.Context, nc net.Conn, maxFrame int, deployment string) (peerPreface, error) {
	if d, ok := ctx.Deadline(); ok {
		nc.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := nc.Write(encodePreface(maxFrame, deployment)); err != nil {
		return peerPreface{}, fmt.Errorf("handshake: %w", err)
	}
	peer, err := readPreface(nc)
	if err != nil {
		return peerPreface{}, fmt.Errorf("handshake: %w", err)
	}
	if !stop() {
		return peerPreface{}, fmt.Errorf("handshake: %w", context.Cause(ctx))
	}
	return peer, nc.SetDeadline(time.Time{})
}

// Addr returns the address the Conn was dialed with.
func (c *Conn) Addr() string { return c.addr }

// Done is closed when the connection is dead.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Draining reports whether the server asked to stop sending new calls (or
// the Conn is being retired): new calls fail with codegen.ErrUnavailable.
func (c *Conn) Draining() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.draining
}

// Close kills the connection. Calls in flight fail.
func (c *Conn) Close() error {
	c.die(errConnClosed)
	return nil
}

// retire refuses new calls and closes the connection once the calls in
// flight have finished.
func (c *Conn) retire() {
	c.mu.Lock()
	c.draining, c.idleClose = true, true
	idle := len(c.calls) == 0
	c.mu.Unlock()
	if idle {
		c.die(errConnClosed)
	}
}

// inFlight returns the number of outstanding calls.
func (c *Conn) inFlight() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.calls)
}

// Call invokes method of component with encoded args and returns the encoded
// results. args may be reused once Call returns. If ctx ends first, the
// server is told to cancel the handler and ctx's error is returned at once,
// even if the request is still waiting to be written (it is then copied,
// and still sent).
//
// Transport failures wrap codegen.ErrUnavailable (the request was not sent,
// or the server refused it without running it; also when the send queue is
// over DialOptions.MaxQueuedBytes) or codegen.ErrInterrupted (it was sent and
// no reply came). Arguments over the server's frame limit, or results over
// ours, fail with an error wrapping ErrTooLarge, which is neither: the call
// would fail the same way anywhere. A handler's error is returned as decoded
// by codegen.Decoder.Error.
func (c *Conn) Call(ctx context.Context, component string, method int, args []byte) ([]byte, error) {
	return c.call(ctx, component, method, args, time.Time{})
}

// call is Call with a default deadline: if ctx has none and by is not
// zero, the call ends at by with context.DeadlineExceeded, as if ctx had
// that deadline (it is sent to the server the same way), but with a
// pooled timer rather than a context of its own: a default deadline is
// on most calls' path, and a timer context costs allocations and a
// registration with its parent.
func (c *Conn) call(ctx context.Context, component string, method int, args []byte, by time.Time) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if method < 0 || uint64(method) > math.MaxUint32 {
		return nil, fmt.Errorf("rpc: method index %d out of range", method)
	}
	prefix := requestPrefix
	sc := trace.SpanContextFromContext(ctx)
	if sc.IsValid() {
		prefix += traceContextLen
	}
	if len(args) > c.peer-prefix {
		return nil, fmt.Errorf("%w: arguments of %s method %d are %d bytes, over the server's limit of %d (its MaxFrameSize of %d less the %d-byte request prefix)",
			ErrTooLarge, component, method, len(args), c.peer-prefix, c.peer, prefix)
	}
	var deadline uint64
	d, ok := ctx.Deadline()
	byTimer := !ok && !by.IsZero()
	if byTimer {
		d, ok = by, true
	}
	if ok {
		us := time.Until(d).Microseconds()
		if us <= 0 {
			return nil, context.DeadlineExceeded
		}
		deadline = uint64(us)
	}

	cl := callPool.Get().(*call)
	cl.end.Store(math.MaxUint64)
	cl.id = c.nextID.Add(1)
	c.mu.Lock()
	if c.err != nil || c.draining {
		cause := c.err
		if cause == nil {
			cause = errDraining
		}
		c.mu.Unlock()
		callPool.Put(cl)
		return nil, unavailable(c.addr, cause)
	}
	c.calls[cl.id] = cl
	if !c.ka.armed {
		c.armKeepaliveLocked()
	}
	c.mu.Unlock()

	var hdr [headerLen]byte
	putHeader(&hdr, frameRequest, prefix+len(args), cl.id)
	var pre [requestPrefix + traceContextLen]byte
	putRequestPrefix(pre[:], ComponentID(component), uint32(method), deadline)
	if sc.IsValid() {
		hdr[1] = flagTraced
		putTraceContext(pre[requestPrefix:], sc)
	}
	var owner releaser // large args are written from the caller's memory
	if len(args) >= largePayload {
		owner = cl
	}
	written := owner != nil // wait for cl.wr before returning
	if err := c.q.enqueue(&hdr, pre[:prefix], args, owner, &cl.end, failFull); err != nil {
		if c.forget(cl.id) {
			if written {
				<-cl.wr
			}
			callPool.Put(cl)
			return nil, unavailable(c.addr, err)
		}
		<-cl.ch // die completed it
		return finish(cl, written)
	}

	var expired <-chan time.Time // of by's timer
	if byTimer {
		t := getTimer(time.Until(d))
		defer putTimer(t)
		expired = t.C
	}
	var err error
	select {
	case <-cl.ch:
		return finish(cl, written)
	case <-ctx.Done():
		err = ctx.Err()
	case <-expired:
		err = context.DeadlineExceeded
	}
	if !c.forget(cl.id) {
		<-cl.ch // the reply (or a failure) won the race
		return finish(cl, written)
	}
	// The server enforces a propagated deadline itself, so its handler sees
	// DeadlineExceeded; anything else, or a request still queued (its
	// relative deadline will be stale when it is sent), is cancelled
	// explicitly (best effort: a dead conn cancels its handlers anyway).
	if deadline == 0 || err != context.DeadlineExceeded || cl.end.Load() > c.q.attempted.Load() {
		var cancel [headerLen]byte
		putHeader(&cancel, frameCancel, 0, cl.id)
		c.q.enqueue(&cancel, nil, nil, nil, nil, unlimited)
	}
	// Don't wait for large args to be written: the queue copies them if
	// they are not yet (the reply to the call is then ignored).
	if written && c.q.detach(cl) {
		<-cl.wr
	}
	callPool.Put(cl)
	return nil, err
}

// timerPool holds stopped timers for the default deadlines of calls.
var timerPool = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}

func getTimer(d time.Duration) *time.Timer {
	t := timerPool.Get().(*time.Timer)
	t.Reset(d)
	return t
}

// putTimer stops t and pools it: since Go 1.23 a stopped timer's channel
// holds no stale tick for its next Reset.
func putTimer(t *time.Timer) {
	t.Stop()
	timerPool.Put(t)
}

// finish returns the outcome of completed call cl and recycles it.
func finish(cl *call, written bool) ([]byte, error) {
	if written {
		<-cl.wr
	}
	res, err := cl.res, cl.err
	cl.res, cl.err = nil, nil
	callPool.Put(cl)
	return res, err
}

// forget removes call id; it reports whether it was still there (and so is
// now the caller's to complete).
func (c *Conn) forget(id uint64) bool {
	c.mu.Lock()
	_, ok := c.calls[id]
	if ok {
		delete(c.calls, id)
	}
	closeNow := ok && c.idleClose && len(c.calls) == 0
	c.mu.Unlock()
	if closeNow {
		c.die(errConnClosed)
	}
	return ok
}

func (c *Conn) readLoop(br *bufio.Reader) {
	var err error
	for err == nil {
		c.fr.atFrameStart(br.Buffered() > 0)
		var h header
		if h, err = readHeader(br, c.max); err != nil {
			break
		}
		switch h.typ {
		case frameResponse, frameError, frameReject:
			err = c.complete(br, h)
			if err == nil && br.Buffered() == 0 {
				// Let the caller just woken run now, on this P, rather than
				// after this goroutine's next read finds nothing to read.
				runtime.Gosched()
			}
		case framePong: // its bytes, like any, told the keepalive the server lives
			if h.n != 0 {
				err = fmt.Errorf("%w: pong with %d-byte payload", errProtocol, h.n)
			}
		case frameGoAway:
			if h.n != 0 {
				err = fmt.Errorf("%w: goaway with %d-byte payload", errProtocol, h.n)
				break
			}
			c.mu.Lock()
			c.draining, c.gotGoAway, c.goAway = true, true, h.id
			c.mu.Unlock()
		default:
			err = fmt.Errorf("%w: unexpected frame type %d from server", errProtocol, h.typ)
		}
	}
	c.die(fmt.Errorf("read: %w", err))
}

// complete reads a reply and hands it to its call.
func (c *Conn) complete(br *bufio.Reader, h header) error {
	c.mu.Lock()
	cl := c.calls[h.id]
	if cl != nil {
		delete(c.calls, h.id)
	}
	closeNow := cl != nil && c.idleClose && len(c.calls) == 0
	c.mu.Unlock()
	if cl == nil { // cancelled by its caller
		_, err := br.Discard(h.n)
		return unexpected(err)
	}
	p, err := readPayload(br, h.n, nil)
	if err != nil {
		cl.err = interrupted(c.addr, fmt.Errorf("read reply: %w", err))
		cl.ch <- struct{}{}
		return err
	}
	switch h.typ {
	case frameResponse:
		cl.res = p
	case frameError:
		cl.err = decodeError(p)
	case frameReject:
		cl.err = unavailable(c.addr, decodeError(p))
	}
	cl.ch <- struct{}{}
	if closeNow {
		c.die(errConnClosed)
	}
	return nil
}

func decodeError(p []byte) error {
	var d codegen.Decoder
	d.Reset(p)
	err := d.Error()
	if derr := d.Done(); derr != nil {
		return fmt.Errorf("rpc: undecodable error reply: %w", derr)
	}
	if err == nil {
		return fmt.Errorf("rpc: error reply without an error")
	}
	return err
}

// die kills the connection once and fails every call in flight: with
// ErrInterrupted if its request may have reached the server (and, after a
// goaway, was read before the server began draining), else with
// ErrUnavailable.
func (c *Conn) die(cause error) {
	c.dieOnce.Do(func() {
		c.q.fail(cause) // no new batch starts: attempted is final but for one in progress
		c.nc.Close()
		c.mu.Lock()
		c.err = cause
		c.stopKeepaliveLocked()
		calls := c.calls
		c.calls = nil
		goAway, gotGoAway := c.goAway, c.gotGoAway
		c.mu.Unlock()
		// Dead before its calls learn it: a Pool retrying one of them must
		// not pick this connection again.
		close(c.done)
		sent := c.q.attempted.Load()
		for _, cl := range calls {
			if end := cl.end.Load(); end <= sent && !(gotGoAway && end > goAway) {
				cl.err = interrupted(c.addr, cause)
			} else {
				cl.err = unavailable(c.addr, cause)
			}
			cl.ch <- struct{}{}
		}
	})
}
