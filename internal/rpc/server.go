package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pilotage/pilotage/codegen"
	"github.com/pilotage/pilotage/internal/resilience"
)

// ServerOptions configure a Server. The zero value is usable.
type ServerOptions struct {
	// Deployment identifies the build this process runs, at most
	// MaxDeploymentLen bytes (Serve fails at once for a longer one). It is
	// sent in the handshake; a client announcing another deployment gets
	// our preface (so that its error can name our deployment) and is then
	// disconnected, its calls never dispatched. Empty matches only an empty
	// client Deployment.
	Deployment string
	// MaxFrameSize bounds the payload of a frame read from a client
	// (default DefaultMaxFrameSize, at least MinMaxFrameSize). It is
	// announced in the handshake: clients refuse larger arguments locally.
	MaxFrameSize int
	// WriteTimeout bounds one flush of a connection's send queue (default
	// DefaultWriteTimeout). A client that reads nothing for that long is
	// taken for dead: the connection is closed and its handlers cancelled.
	WriteTimeout time.Duration
	// MaxQueuedBytes bounds the bytes queued but not yet written on a
	// connection (default DefaultMaxQueuedBytes, at least twice the client's
	// frame limit). A handler whose results would pass it waits for the
	// queue to drain before they are queued.
	MaxQueuedBytes int
	// HandshakeTimeout bounds the exchange of prefaces on a new connection
	// (default DefaultHandshakeTimeout); a client that has not completed it
	// by then is disconnected.
	HandshakeTimeout time.Duration
	// FrameTimeout bounds how long a frame from a client may stall: once its
	// first byte has arrived, each of the next must arrive within it, or the
	// connection is closed and its handlers cancelled (default
	// DefaultFrameTimeout; negative: no bound). The wait for a frame to begin
	// is not bounded: an idle connection stays open.
	FrameTimeout time.Duration
	// MaxInFlight returns the limit of calls in flight to a component (its
	// full name) on this server: 0 for an adaptive limit (see
	// resilience.Limiter), negative for none. A call over it is refused at
	// once with an error wrapping codegen.ErrOverloaded (and, to the
	// caller, codegen.ErrUnavailable: it never ran). Nil: adaptive for
	// every component.
	MaxInFlight func(component string) int
	// Logger receives connection errors: protocol violations and clients of
	// another deployment (Warn), other failed handshakes (Debug: port
	// scanners and TCP probes fail them too). Nil discards them.
	Logger *slog.Logger
}

// A Server runs the handlers of registered components for the calls that
// arrive on its listeners.
type Server struct {
	opts   ServerOptions
	optErr error // an invalid option: Serve fails with it

	workers *workerPool // run handshakes, readers and handlers

	regMu sync.Mutex                            // serializes Register and Unregister
	comps atomic.Pointer[map[uint64]*component] // copy on write; read on every request

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*serverConn]struct{}
	closing   bool          // Shutdown or Close began: accept nothing more
	closed    chan struct{} // closed when closing is set
}

type component struct {
	name     string
	handlers []codegen.Handler
	limiter  *resilience.Limiter // of calls in flight
}

// NewServer returns a Server with no components.
func NewServer(opts ServerOptions) *Server {
	opts.MaxFrameSize = clampFrameSize(opts.MaxFrameSize)
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if opts.FrameTimeout == 0 {
		opts.FrameTimeout = DefaultFrameTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, workers: newWorkerPool(), optErr: checkDeployment("ServerOptions.Deployment", opts.Deployment), listeners: map[net.Listener]struct{}{}, conns: map[*serverConn]struct{}{}, closed: make(chan struct{})}
	s.comps.Store(&map[uint64]*component{})
	return s
}

// Register serves component (its full name) with handlers, indexed by method.
// It fails if the name is registered already or its id collides with
// another registered name.
func (s *Server) Register(name string, handlers []codegen.Handler) error {
	s.regMu.Lock()
	defer s.regMu.Unlock()
	id := ComponentID(name)
	old := *s.comps.Load()
	if c, ok := old[id]; ok {
		if c.name == name {
			return fmt.Errorf("rpc: component %s already registered", name)
		}
		return fmt.Errorf("rpc: components %s and %s have the same id %#x", c.name, name, id)
	}
	next := make(map[uint64]*component, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[id] = &component{name: name, handlers: handlers, limiter: s.newLimiter(name)}
	s.comps.Store(&next)
	return nil
}

// Unregister stops serving component. Calls already running finish; new ones
// are rejected as unavailable.
func (s *Server) Unregister(name string) {
	s.regMu.Lock()
	defer s.regMu.Unlock()
	id := ComponentID(name)
	old := *s.comps.Load()
	if c, ok := old[id]; !ok || c.name != name {
		return
	}
	next := make(map[uint64]*component, len(old))
	for k, v := range old {
		if k != id {
			next[k] = v
		}
	}
	s.comps.Store(&next)
}

func (s *Server) lookup(id uint64) *component { return (*s.comps.Load())[id] }

// Serve accepts connections on l until Shutdown or Close, and always returns
// an error: ErrServerClosed after Shutdown or Close, or an error wrapping
// net.ErrClosed if l was closed by someone else. Any other accept error (out
// of file descriptors, a connection aborted before it was accepted) is logged
// and retried after a pause that doubles from 5ms to 1s, so a Server never
// stops accepting by itself while it is open. Serve may be called for several
// listeners at once. With an invalid ServerOptions.Deployment, Serve closes l
// and returns an error saying so at once.
func (s *Server) Serve(l net.Listener) error {
	if s.optErr != nil {
		l.Close()
		return s.optErr
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()

	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.isClosing() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("rpc: accept on %s: %w", l.Addr(), err)
			}
			// Out of file descriptors, say: wait for some to be freed,
			// without spinning and without giving up.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.opts.Logger.Warn("rpc: accept failed; retrying", "addr", l.Addr(), "err", err, "backoff", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-s.closed:
				t.Stop()
			}
			continue
		}
		backoff = 0
		sc := newServerConn(s, nc)
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			nc.Close()
			return ErrServerClosed
		}
		s.conns[sc] = struct{}{}
		s.mu.Unlock()
		s.workers.start(connServe{sc})
	}
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

func (s *Server) forget(sc *serverConn) {
	s.mu.Lock()
	delete(s.conns, sc)
	s.mu.Unlock()
}

// stopAccepting closes the listeners and returns the live connections.
func (s *Server) stopAccepting() []*serverConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closing {
		s.closing = true
		close(s.closed)
	}
	for l := range s.listeners {
		l.Close()
	}
	conns := make([]*serverConn, 0, len(s.conns))
	for sc := range s.conns {
		conns = append(conns, sc)
	}
	return conns
}

// Shutdown drains the server: it stops accepting, sends goaway on every
// connection and refuses new calls on it (the client sees
// codegen.ErrUnavailable), waits for the calls in flight to finish, stops
// reading, waits for the replies and refusals to be written, then closes the
// connections (shutting down the write side first and waiting briefly for
// the client to close, so that a TCP reset cannot destroy replies in
// transit). If ctx ends first the rest is closed at once and ctx's error
// returned.
func (s *Server) Shutdown(ctx context.Context) error {
	conns := s.stopAccepting()
	for _, sc := range conns {
		sc.drain()
	}
	done := make(chan struct{})
	go func() {
		var wg sync.WaitGroup
		for _, sc := range conns {
			wg.Go(func() {
				sc.handlers.Wait()
				sc.stopReading() // every request read is answered or refused
				sc.q.waitIdle()
				sc.closeGracefully()
			})
		}
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.workers.close()
		return nil
	case <-ctx.Done():
		s.Close()
		return fmt.Errorf("rpc: shutdown: %w", ctx.Err())
	}
}

// Close closes the listeners and connections at once; running handlers see
// their context cancelled and their callers get codegen.ErrInterrupted.
func (s *Server) Close() error {
	for _, sc := range s.stopAccepting() {
		sc.close(ErrServerClosed)
	}
	s.workers.close()
	return nil
}
