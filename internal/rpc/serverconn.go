package rpc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/pilotage/pilotage/codegen"
)

// A serverConn serves one client connection: a reader goroutine that
// dispatches each request to its own handler goroutine, and a send queue.
type serverConn struct {
	s  *Server
	nc net.Conn
	q  *sendQueue

	ctx    context.Context // parent of every handler's context
	cancel context.CancelFunc

	handlers sync.WaitGroup // running handlers

	mu       sync.Mutex
	inflight map[uint64]context.CancelFunc
	ready    bool   // handshake done: frames may be written
	draining bool   // refuse new requests
	maxID    uint64 // highest request id read

	closeOnce sync.Once
}

func newServerConn(s *Server, nc net.Conn) *serverConn {
	sc := &serverConn{s: s, nc: nc, inflight: map[uint64]context.CancelFunc{}}
	sc.ctx, sc.cancel = context.WithCancel(context.Background())
	sc.q = newSendQueue(nc, func(err error) { sc.close(fmt.Errorf("write: %w", err)) })
	return sc
}

func (sc *serverConn) serve() {
	br := bufio.NewReaderSize(sc.nc, readBufferSize)
	if err := sc.handshake(br); err != nil {
		sc.s.opts.Logger.Debug("rpc: handshake failed", "remote", sc.nc.RemoteAddr(), "err", err)
		sc.close(err)
		return
	}
	go sc.q.run()
	err := sc.readLoop(br)
	if errors.Is(err, errProtocol) {
		sc.s.opts.Logger.Warn("rpc: closing connection", "remote", sc.nc.RemoteAddr(), "err", err)
	}
	sc.close(err)
}

func (sc *serverConn) handshake(br *bufio.Reader) error {
	sc.nc.SetDeadline(time.Now().Add(sc.s.opts.HandshakeTimeout))
	var got [prefaceLen]byte
	if _, err := io.ReadFull(br, got[:]); err != nil {
		return fmt.Errorf("rpc: handshake: %w", err)
	}
	if err := checkPreface(got[:]); err != nil {
		return fmt.Errorf("rpc: handshake: %w", err)
	}
	p := preface()
	if _, err := sc.nc.Write(p[:]); err != nil {
		return fmt.Errorf("rpc: handshake: %w", err)
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

func (sc *serverConn) readLoop(br *bufio.Reader) error {
	max := sc.s.opts.MaxFrameSize
	for {
		h, err := readHeader(br, max)
		if err != nil {
			return err
		}
		switch h.typ {
		case frameRequest:
			if err := sc.request(br, h); err != nil {
				return err
			}
		case frameCancel:
			if h.n != 0 {
				return fmt.Errorf("%w: cancel with %d-byte payload", errProtocol, h.n)
			}
			sc.mu.Lock()
			cancel := sc.inflight[h.id]
			sc.mu.Unlock()
			if cancel != nil {
				cancel()
			}
		default:
			return fmt.Errorf("%w: unexpected frame type %d from client", errProtocol, h.typ)
		}
	}
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
	args   []byte
	buf    []byte // payload; args points into it
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

// request reads a request's payload and starts its handler, or refuses it.
func (sc *serverConn) request(br *bufio.Reader, h header) error {
	c := serverCallPool.Get().(*serverCall)
	p, err := readPayload(br, h.n, c.buf)
	if err != nil {
		c.free()
		return err
	}
	c.buf = p
	req, err := parseRequest(p)
	if err != nil {
		c.free()
		return err
	}
	comp := sc.s.lookup(req.component)
	sc.mu.Lock()
	if _, dup := sc.inflight[h.id]; dup {
		sc.mu.Unlock()
		c.free()
		return fmt.Errorf("%w: call id %d reused while in flight", errProtocol, h.id)
	}
	sc.maxID = max(sc.maxID, h.id)
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
		sc.sendError(frameReject, h.id, refuse, nil)
		return nil
	}
	if int64(req.method) >= int64(len(comp.handlers)) || comp.handlers[req.method] == nil {
		sc.mu.Unlock()
		c.free()
		sc.sendError(frameError, h.id, fmt.Errorf("rpc: component %s has no method %d", comp.name, req.method), nil)
		return nil
	}
	if req.deadline > 0 {
		c.ctx, c.cancel = context.WithTimeout(sc.ctx, time.Duration(min(req.deadline, uint64(1<<62)/1000))*time.Microsecond)
	} else {
		c.ctx, c.cancel = context.WithCancel(sc.ctx)
	}
	c.sc, c.id, c.comp, c.method, c.args = sc, h.id, comp, int(req.method), req.args
	sc.inflight[h.id] = c.cancel
	sc.handlers.Add(1)
	sc.mu.Unlock()
	go c.run()
	return nil
}

func (c *serverCall) run() {
	sc, id, cancel := c.sc, c.id, c.cancel
	defer sc.handlers.Done()
	out := codegen.GetEncoder()
	err := invoke(c.ctx, c.comp.handlers[c.method], c.args, out, c.comp.name, c.method)
	c.free()
	if err == nil {
		err = out.Err()
	}
	if err == nil && uint64(len(out.Data())) > math.MaxUint32 {
		err = fmt.Errorf("rpc: %d-byte results exceed the frame length field", len(out.Data()))
	}
	if err != nil {
		sc.sendError(frameError, id, err, out)
	} else {
		var hdr [headerLen]byte
		data := out.Data()
		putHeader(&hdr, frameResponse, len(data), id)
		if len(data) >= largePayload {
			r := replyPool.Get().(*reply)
			r.out = out
			sc.q.enqueue(&hdr, nil, data, r, nil)
		} else {
			sc.q.enqueue(&hdr, nil, data, nil, nil)
			codegen.PutEncoder(out)
		}
	}
	sc.mu.Lock()
	delete(sc.inflight, id)
	sc.mu.Unlock()
	cancel()
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
func (sc *serverConn) sendError(typ byte, id uint64, err error, out *codegen.Encoder) {
	if out == nil {
		out = codegen.GetEncoder()
	}
	out.Reset()
	out.Error(err)
	var hdr [headerLen]byte
	putHeader(&hdr, typ, len(out.Data()), id)
	sc.q.enqueue(&hdr, nil, out.Data(), nil, nil)
	codegen.PutEncoder(out)
}

// drain refuses new requests and tells the client with a goaway frame that
// names the highest request id read: requests above it were never run.
func (sc *serverConn) drain() {
	sc.mu.Lock()
	sc.draining = true
	ready, last := sc.ready, sc.maxID
	sc.mu.Unlock()
	if !ready {
		sc.close(ErrServerClosed) // nothing was sent on it yet
		return
	}
	var hdr [headerLen]byte
	putHeader(&hdr, frameGoAway, 0, last)
	sc.q.enqueue(&hdr, nil, nil, nil, nil)
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
