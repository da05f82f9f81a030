package rpc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/pilotage/pilotage/codegen"
)

// A serverConn serves one client connection: a reader, which runs on the
// server's workers (see read), and a send queue.
type serverConn struct {
	s  *Server
	nc net.Conn
	fr *frameReader // under the bufio.Reader made once the handshake is done
	q  *sendQueue

	ctx    context.Context // parent of every handler's context
	cancel context.CancelFunc

	handlers sync.WaitGroup // running handlers
	peer     int            // largest payload the client reads (set by the handshake)
	readDone chan struct{}  // closed when the connection's reading ends

	// Used by the connection's reader only (one worker at a time; see read).
	br      *bufio.Reader // made once the handshake is done
	readEnd uint64        // stream offset of the end of the last frame read, counted as the client counts it

	inline   atomic.Bool // the reader runs a call itself; handOffReading may take the reading from it
	watchdog *time.Timer // runs handOffReading

	mu        sync.Mutex
	inflight  map[uint64]context.CancelFunc
	deadlines *deadlineGroup // the group new calls' deadlines join (see callContext)
	ready     bool           // handshake done: frames may be written
	draining  bool           // refuse new requests
	quiesced  bool           // Shutdown stopped the reader: it must not close the conn
	readOff   uint64         // stream offset of the end of the last request accepted

	closeOnce sync.Once
}

func newServerConn(s *Server, nc net.Conn) *serverConn {
	sc := &serverConn{s: s, nc: nc, fr: newFrameReader(nc, s.opts.FrameTimeout), inflight: map[uint64]context.CancelFunc{}, readDone: make(chan struct{})}
	sc.ctx, sc.cancel = context.WithCancel(servingContext)
	sc.q = newSendQueue(nc, s.opts.WriteTimeout, 0, func(err error) { sc.close(fmt.Errorf("write: %w", err)) })
	return sc
}

// connServe is the task that serves a new connection: the handshake, then
// its reading.
type connServe struct{ sc *serverConn }

func (t connServe) run() { t.sc.serve() }

// connReader is the task of carrying on reading a connection.
type connReader struct{ sc *serverConn }

func (t connReader) run() { t.sc.read() }

func (sc *serverConn) serve() {
	// Until the handshake is done the connection holds no read buffer, so a
	// client that never completes it costs next to nothing.
	if err := sc.handshake(); err != nil {
		level := slog.LevelDebug
		if errors.Is(err, ErrDeploymentMismatch) {
			level = slog.LevelWarn // a peer of ours, misdeployed: worth seeing
		}
		sc.s.opts.Logger.Log(context.Background(), level, "rpc: handshake failed", "remote", sc.nc.RemoteAddr(), "err", err)
		sc.close(err)
		close(sc.readDone)
		return
	}
	sc.br = bufio.NewReaderSize(sc.fr, readBufferSize)
	sc.watchdog = time.AfterFunc(time.Hour, sc.handOffReading)
	sc.watchdog.Stop()
	sc.read()
}

// stopReading makes the reader stop and waits for it, so that nothing more
// is queued in answer to requests.
func (sc *serverConn) stopReading() {
	sc.mu.Lock()
	sc.quiesced = true
	sc.mu.Unlock()
	sc.fr.stop()
	<-sc.readDone
}

// handshake reads the client's preface (straight from the connection: the
// client sends nothing more before it has our answer) and answers with ours,
// within the handshake timeout. A client of another deployment gets our
// preface too, so that it can say which deployment it met, and is then
// refused.
func (sc *serverConn) handshake() error {
	sc.nc.SetDeadline(time.Now().Add(sc.s.opts.HandshakeTimeout))
	peer, err := readPreface(sc.nc)
	if err != nil {
		return fmt.Errorf("rpc: handshake: %w", err)
	}
	sc.peer = peer.maxFrame
	sc.q.mu.Lock()
	sc.q.maxQueued = queueLimit(sc.s.opts.MaxQueuedBytes, peer.maxFrame)
	sc.q.mu.Unlock()
	if _, err := sc.nc.Write(encodePreface(sc.s.opts.MaxFrameSize, sc.s.opts.Deployment)); err != nil {
		return fmt.Errorf("rpc: handshake: %w", err)
	}
	if peer.deployment != sc.s.opts.Deployment {
		return fmt.Errorf("rpc: handshake: %w", deploymentMismatch("client", remoteName(sc.nc), peer.deployment, "this server", sc.s.opts.Deployment))
	}
	if err := sc.nc.SetDeadline(time.Time{}); err != nil {
		return fmt.Errorf("rpc: handshake: %w", err)
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.draining { // Shutdown began during the handshake
		return fmt.Errorf("rpc: handshake: %w", ErrServerClosed)
	}
	sc.ready = true
	return nil
}

// remoteName names the client of nc for an error message; the remote end of
// a Unix socket is usually unnamed.
func remoteName(nc net.Conn) string {
	if a := nc.RemoteAddr(); a != nil && a.String() != "" && a.String() != "@" {
		return a.String()
	}
	return "the other end of " + nc.LocalAddr().String()
}

// A serverCall is one request being served. Pooled with its payload buffer,
// so a busy connection does not allocate per call for either.
type serverCall struct {
	sc     *serverConn
	id     uint64
	comp   *component
	method int
	ctx    context.Context
	cancel context.CancelFunc
	group  *deadlineGroup // the deadline it shares, if any
	args   []byte
	buf    []byte        // pooled payload buffer; args points into it unless the handler owns them
	budget time.Duration // the caller's deadline, relative; 0 if none
	start  time.Time     // when it was read, if budget is set
}

// maxPooledPayload caps the payload buffer a pooled serverCall keeps.
const maxPooledPayload = 64 << 10

var serverCallPool = sync.Pool{New: func() any { return new(serverCall) }}

func (c *serverCall) free() {
	if cap(c.buf) > maxPooledPayload {
		c.buf = nil
	}
	*c = serverCall{buf: c.buf[:0]}
	serverCallPool.Put(c)
}

// request reads a request's payload, which ends at stream offset end, and
// returns its call, ready to run; or refuses it and returns no call.
func (sc *serverConn) request(br *bufio.Reader, h header, end uint64) (*serverCall, error) {
	c := serverCallPool.Get().(*serverCall)
	// Arguments the decoder may alias are the handler's to keep (see
	// codegen.Handler): read into memory of their own, never pooled.
	owned := h.n-requestPrefix >= codegen.MinAliased
	buf := c.buf
	if owned {
		buf = nil
	}
	p, err := readPayload(br, h.n, buf)
	if err != nil {
		c.free()
		return nil, err
	}
	if !owned {
		c.buf = p
	}
	req, err := parseRequest(p)
	var remote trace.SpanContext
	if err == nil && h.flags&flagTraced != 0 {
		remote, req.args, err = splitTraceContext(req.args)
	}
	if err != nil {
		c.free()
		return nil, err
	}
	comp := sc.s.lookup(req.component)
	sc.mu.Lock()
	if _, dup := sc.inflight[h.id]; dup {
		sc.mu.Unlock()
		c.free()
		return nil, fmt.Errorf("%w: call id %d reused while in flight", errProtocol, h.id)
	}
	var refuse error
	switch {
	case sc.draining:
		refuse = fmt.Errorf("server shutting down: %w", codegen.ErrUnavailable)
	case comp == nil:
		refuse = fmt.Errorf("component %#x not served here: %w", req.component, codegen.ErrUnavailable)
	}
	if refuse != nil {
		sc.mu.Unlock()
		c.free()
		sc.sendError(frameReject, h.id, refuse, nil, unlimited)
		return nil, nil
	}
	sc.readOff = end
	if int64(req.method) >= int64(len(comp.handlers)) || comp.handlers[req.method] == nil {
		sc.mu.Unlock()
		c.free()
		sc.sendError(frameError, h.id, fmt.Errorf("rpc: component %s has no method %d", comp.name, req.method), nil, unlimited)
		return nil, nil
	}
	if !comp.limiter.Acquire() {
		sc.mu.Unlock()
		c.free()
		sc.sendError(frameReject, h.id, overloaded(comp), nil, unlimited)
		return nil, nil
	}
	var deadline time.Time
	if req.deadline > 0 {
		c.budget, c.start = time.Duration(min(req.deadline, uint64(1<<62)/1000))*time.Microsecond, time.Now()
		deadline = c.start.Add(c.budget)
	}
	c.ctx, c.cancel, c.group = sc.callContext(deadline, c.budget)
	if remote.IsValid() { // the handler's spans are children of the caller's
		c.ctx = trace.ContextWithRemoteSpanContext(c.ctx, remote)
	}
	c.sc, c.id, c.comp, c.method, c.args = sc, h.id, comp, int(req.method), req.args
	sc.inflight[h.id] = c.cancel
	sc.handlers.Add(1)
	sc.mu.Unlock()
	return c, nil
}

func (c *serverCall) run() {
	sc, id, cancel, group, comp, method, budget, start := c.sc, c.id, c.cancel, c.group, c.comp, c.method, c.budget, c.start
	defer sc.handlers.Done()
	out := codegen.GetEncoder()
	out.ReferLarge() // the handler hands its results over when it returns
	err := invoke(c.ctx, comp.handlers[method], c.args, out, comp.name, method)
	if err == nil && budget > 0 && c.ctx.Err() == context.DeadlineExceeded {
		// The caller has given up: its results would be dropped. It learns
		// that the call timed out here, whatever the method returned (a
		// method's error travels inside its results, so a method returning
		// ctx.Err() would otherwise look like a success to the transport,
		// and to its outlier ejection).
		err = fmt.Errorf("%s method %d ran past the caller's deadline of %s: %w", shortName(comp.name), method, budget, context.DeadlineExceeded)
	}
	c.free()
	if err == nil {
		err = out.Err()
	}
	if n := out.Size(); err == nil && n > sc.peer {
		err = fmt.Errorf("%w: results of %s method %d are %d bytes, over the caller's limit of %d (its MaxFrameSize)",
			ErrTooLarge, comp.name, method, n, sc.peer)
	}
	if err != nil {
		sc.sendError(frameError, id, err, out, waitFull)
	} else {
		var hdr [headerLen]byte
		n := out.Size()
		putHeader(&hdr, frameResponse, n, id)
		if n >= largePayload { // written from out's memory and what it refers to
			r := replyPool.Get().(*reply)
			r.out = out
			sc.q.enqueueEncoded(&hdr, out, r, waitFull)
		} else {
			sc.q.enqueue(&hdr, nil, out.Data(), nil, nil, waitFull)
			codegen.PutEncoder(out)
		}
	}
	cancel()
	sc.mu.Lock()
	delete(sc.inflight, id)
	sc.leave(group)
	sc.mu.Unlock()
	comp.limiter.Release(budget, start, time.Now)
}

// A reply owns the encoder of a large response until it is written.
type reply struct{ out *codegen.Encoder }

var replyPool = sync.Pool{New: func() any { return new(reply) }}

func (r *reply) release() {
	codegen.PutEncoder(r.out)
	r.out = nil
	replyPool.Put(r)
}

// invoke runs h, turning a panic into an error wrapping codegen.ErrPanic.
func invoke(ctx context.Context, h codegen.Handler, args []byte, out *codegen.Encoder, comp string, method int) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = codegen.PanicError(comp, "method "+strconv.Itoa(method), r)
		}
	}()
	return h(ctx, args, out)
}

// sendError writes an error or reject frame carrying err. out, if not nil,
// is a pooled encoder to reuse.
func (sc *serverConn) sendError(typ byte, id uint64, err error, out *codegen.Encoder, limit int) {
	if out == nil {
		out = codegen.GetEncoder()
	}
	out.Reset()
	out.Error(err)
	if n := len(out.Data()); n > sc.peer { // a huge message: send its start
		msg := err.Error()
		msg = msg[:min(len(msg), 200)]
		out.Reset()
		out.Error(fmt.Errorf("%w: error reply of %d bytes, over the caller's limit of %d; it began %q", ErrTooLarge, n, sc.peer, msg))
	}
	var hdr [headerLen]byte
	putHeader(&hdr, typ, len(out.Data()), id)
	sc.q.enqueue(&hdr, nil, out.Data(), nil, nil, limit)
	codegen.PutEncoder(out)
}

// drain refuses new requests and tells the client with a goaway frame that
// names the stream offset of the end of the last request accepted: requests
// ending past it were never run.
func (sc *serverConn) drain() {
	sc.mu.Lock()
	sc.draining = true
	ready, last := sc.ready, sc.readOff
	sc.mu.Unlock()
	if !ready {
		sc.close(ErrServerClosed) // nothing was sent on it yet
		return
	}
	var hdr [headerLen]byte
	putHeader(&hdr, frameGoAway, 0, last)
	sc.q.enqueue(&hdr, nil, nil, nil, nil, unlimited)
}

// lingerTimeout bounds how long closeGracefully waits for the client to close.
const lingerTimeout = time.Second

// closeGracefully closes the connection once its replies were written: it
// shuts down the write side, so the client reads every reply then EOF, and
// discards what the client still sends until it closes its side. Closing with
// unread bytes at once would make TCP send a reset, which can destroy replies
// the client has not read yet.
func (sc *serverConn) closeGracefully() {
	if cw, ok := sc.nc.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		sc.nc.SetReadDeadline(time.Now().Add(lingerTimeout))
		io.Copy(io.Discard, sc.nc)
	}
	sc.close(ErrServerClosed)
}

// close kills the connection and cancels running handlers.
func (sc *serverConn) close(cause error) {
	sc.closeOnce.Do(func() {
		sc.q.fail(cause)
		sc.nc.Close()
		sc.cancel()
		sc.s.forget(sc)
	})
}
