package rpc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
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
			buf := getArgsBuf(h.n)
			p, err := readPayload(br, h.n, buf)
			if err != nil {
				putArgsBuf(buf)
				return err
			}
			req, err := parseRequest(p)
			if err != nil {
				putArgsBuf(p)
				return err
			}
			if err := sc.dispatch(h.id, req, p); err != nil {
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

// dispatch starts the handler for a request, or refuses it. buf holds the
// payload and goes back to the pool when the handler is done.
func (sc *serverConn) dispatch(id uint64, req request, buf []byte) error {
	comp := sc.s.lookup(req.component)
	sc.mu.Lock()
	if _, dup := sc.inflight[id]; dup {
		sc.mu.Unlock()
		putArgsBuf(buf)
		return fmt.Errorf("%w: call id %d reused while in flight", errProtocol, id)
	}
	sc.maxID = max(sc.maxID, id)
	var refuse error
	switch {
	case sc.draining:
		refuse = fmt.Errorf("server shutting down: %w", codegen.ErrUnavailable)
	case comp == nil:
		refuse = fmt.Errorf("component %#x not served here: %w", req.component, codegen.ErrUnavailable)
	}
	if refuse != nil {
		sc.mu.Unlock()
		putArgsBuf(buf)
		sc.sendError(frameReject, id, refuse, nil)
		return nil
	}
	if int64(req.method) >= int64(len(comp.handlers)) || comp.handlers[req.method] == nil {
		sc.mu.Unlock()
		putArgsBuf(buf)
		sc.sendError(frameError, id, fmt.Errorf("rpc: component %s has no method %d", comp.name, req.method), nil)
		return nil
	}
	var ctx context.Context
	var cancel context.CancelFunc
	if req.deadline > 0 {
		ctx, cancel = context.WithTimeout(sc.ctx, time.Duration(min(req.deadline, uint64(1<<62)/1000))*time.Microsecond)
	} else {
		ctx, cancel = context.WithCancel(sc.ctx)
	}
	sc.inflight[id] = cancel
	sc.handlers.Add(1)
	sc.mu.Unlock()
	go sc.run(ctx, cancel, id, comp, int(req.method), req.args, buf)
	return nil
}

func (sc *serverConn) run(ctx context.Context, cancel context.CancelFunc, id uint64, comp *component, method int, args, buf []byte) {
	defer sc.handlers.Done()
	out := codegen.GetEncoder()
	err := invoke(ctx, comp.handlers[method], args, out, comp.name, method)
	putArgsBuf(buf)
	if err == nil {
		err = out.Err()
	}
	if err != nil {
		sc.sendError(frameError, id, err, out)
	} else {
		var hdr [headerLen]byte
		data := out.Data()
		putHeader(&hdr, frameResponse, len(data), id)
		if len(data) >= largePayload {
			sc.q.enqueue(&hdr, nil, data, func() { codegen.PutEncoder(out) }, nil)
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

// Request payloads are pooled by size class so a busy connection does not
// allocate per call; payloads above the largest class are not pooled.
var argsPools [4]sync.Pool // 1 KiB, 8 KiB, 64 KiB, 512 KiB

func argsClass(n int) int {
	switch {
	case n <= 1<<10:
		return 0
	case n <= 8<<10:
		return 1
	case n <= 64<<10:
		return 2
	case n <= 512<<10:
		return 3
	}
	return -1
}

func getArgsBuf(n int) []byte {
	c := argsClass(n)
	if c < 0 {
		return nil // readPayload allocates as data arrives
	}
	if b, ok := argsPools[c].Get().(*[]byte); ok {
		return *b
	}
	return make([]byte, 0, 1<<(10+3*c))
}

func putArgsBuf(b []byte) {
	c := argsClass(cap(b))
	if c < 0 || cap(b) != 1<<(10+3*c) {
		return
	}
	b = b[:0]
	argsPools[c].Put(&b)
}
