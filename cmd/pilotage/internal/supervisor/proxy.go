package supervisor

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/internal/envelope"
)

// Limits of a listener proxy; see docs/config.md.
const (
	// DefaultMaxConnections bounds the client connections a listener
	// serves at once; more are refused (reset) until some close.
	DefaultMaxConnections = 1024
	// DefaultIdleTimeout closes a connection through which no byte went
	// either way for that long (idle keep-alive and half-open ones
	// included).
	DefaultIdleTimeout = 2 * time.Minute
	// DefaultBackendWait is how long a new connection waits for a ready
	// replica while the listener's component is starting or restarting.
	DefaultBackendWait = 10 * time.Second

	sniffTimeout = 2 * time.Second // for the first bytes of a client with no backend
	dialTimeout  = 2 * time.Second
	copyBuffer   = 16 << 10
)

// proxyOptions bound a proxy.
type proxyOptions struct {
	maxConns    int
	idleTimeout time.Duration
	backendWait time.Duration
	budget      chan struct{} // shared by every proxy: file descriptors for connections
	logf        func(format string, args ...any)
}

// A proxy serves one named listener on its public address and forwards each
// connection to a ready replica's listener, round-robin.
//
// A client connection costs two file descriptors (the client's and the
// replica's) and is copied with plain reads and writes (no splice pipes),
// so the supervisor's descriptors are bounded: by maxConns per listener,
// and by a budget shared by every listener, sized from the process's
// descriptor limit with a reserve kept for starting replicas and for the
// control API. When no replica is ready, a connection waits for one while
// the component is (re)starting; otherwise, or if none came, an HTTP
// request is answered "503 Service Unavailable" with the reason, and any
// other connection is reset: it never sees an accepted-then-closed empty
// reply.
type proxy struct {
	name string
	ln   net.Listener
	opts proxyOptions
	sem  chan struct{} // one token per open client connection

	mu        sync.Mutex
	backends  []string
	outage    envelope.Outage
	changed   chan struct{} // closed (and replaced) when backends change
	conns     map[net.Conn]struct{}
	closed    bool
	acceptErr error
	acceptAt  time.Time

	next        atomic.Uint64
	refused     atomic.Int64
	unavailable atomic.Int64
	wg          sync.WaitGroup
}

// proxyOptions returns the limits of listener name: the defaults, or
// those of its [listeners.NAME] section.
func (s *Supervisor) proxyOptions(name string) proxyOptions {
	o := proxyOptions{maxConns: DefaultMaxConnections, idleTimeout: DefaultIdleTimeout, backendWait: DefaultBackendWait}
	if lc, ok := s.opts.Config.Listeners[name]; ok {
		if lc.MaxConnections > 0 {
			o.maxConns = lc.MaxConnections
		}
		if lc.IdleTimeout.Duration > 0 {
			o.idleTimeout = lc.IdleTimeout.Duration
		}
	}
	return o
}

// fdReserve is how many file descriptors the proxies leave to the rest of
// the supervisor, besides per replica fdsPerReplica (pipes and sockets).
const (
	fdReserve     = 256
	fdsPerReplica = 8
)

// connectionBudget returns how many proxied connections the supervisor can
// hold at once within its file descriptor limit, keeping a reserve.
func connectionBudget(replicas int) int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur > 1<<20 {
		return 1 << 19 // unknown or huge: the per-listener bound applies
	}
	return max(int(lim.Cur)-fdReserve-fdsPerReplica*replicas, 64) / 2
}

// startProxies listens on every listener's public address.
func (s *Supervisor) startProxies() error {
	names := make([]string, 0, len(s.plan.Listeners))
	for name := range s.plan.Listeners {
		names = append(names, name)
	}
	sort.Strings(names)
	replicas := 0
	for _, n := range s.nodes {
		replicas += len(n.slots)
	}
	budget := make(chan struct{}, connectionBudget(replicas))
	for _, name := range names {
		addr := s.plan.Listeners[name]
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			s.closeProxies()
			return fmt.Errorf("listener %s: %w", name, err)
		}
		opts := s.proxyOptions(name)
		opts.budget, opts.logf = budget, s.out.logf
		px := &proxy{name: name, ln: ln, opts: opts, sem: make(chan struct{}, opts.maxConns),
			changed: make(chan struct{}), conns: map[net.Conn]struct{}{}, outage: envelope.Outage{Reason: "starting", Transient: true}}
		px.wg.Add(1)
		go px.serve()
		s.proxies = append(s.proxies, px)
	}
	return nil
}

func (s *Supervisor) closeProxies() {
	for _, px := range s.proxies {
		px.close()
	}
}

func (px *proxy) addr() string { return px.ln.Addr().String() }

// setBackends sets the ready replicas' addresses, and why there are none.
func (px *proxy) setBackends(b []string, o envelope.Outage) {
	px.mu.Lock()
	defer px.mu.Unlock()
	if px.closed {
		return
	}
	px.backends, px.outage = b, o
	close(px.changed)
	px.changed = make(chan struct{})
}

// status reports the proxy's state for control.Status.
func (px *proxy) status() control.Proxy {
	px.mu.Lock()
	defer px.mu.Unlock()
	st := control.Proxy{Listener: px.name, Address: px.addr(), Backends: append([]string{}, px.backends...),
		Connections: len(px.sem), MaxConnections: cap(px.sem), Refused: px.refused.Load(), Unavailable: px.unavailable.Load()}
	if len(px.backends) == 0 {
		st.Outage = px.outage.Reason
	}
	if px.acceptErr != nil && time.Since(px.acceptAt) < time.Minute {
		st.AcceptError, st.AcceptErrorAt = px.acceptErr.Error(), px.acceptAt
	}
	return st
}

// serve accepts connections until the proxy is closed. An accept error
// (out of file descriptors, say) is logged and retried after a pause that
// doubles from 5ms to 1s: the listener never stops by itself.
func (px *proxy) serve() {
	defer px.wg.Done()
	var backoff time.Duration
	for {
		c, err := px.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			px.mu.Lock()
			first := px.acceptErr == nil || time.Since(px.acceptAt) > 10*time.Second
			px.acceptErr, px.acceptAt = err, time.Now()
			px.mu.Unlock()
			if first {
				px.opts.logf("listener %s: accept: %v; retrying", px.name, err)
			}
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if limit := px.admit(); limit != "" {
			px.refuse(c, limit)
			continue
		}
		px.wg.Add(1)
		go px.forward(c)
	}
}

// admit takes a connection token, from the listener's bound and from the
// shared budget, or says which limit is reached.
func (px *proxy) admit() (limit string) {
	select {
	case px.sem <- struct{}{}:
	default:
		return fmt.Sprintf("at its limit of %d open connections", cap(px.sem))
	}
	select {
	case px.opts.budget <- struct{}{}:
		return ""
	default:
		<-px.sem
		return fmt.Sprintf("the listeners hold %d connections, all the file descriptors the supervisor can spare", cap(px.opts.budget))
	}
}

func (px *proxy) release() {
	<-px.opts.budget
	<-px.sem
}

// refuse resets c, because of limit: the client sees the connection
// reset, not an empty reply.
func (px *proxy) refuse(c net.Conn, limit string) {
	if n := px.refused.Add(1); n&(n-1) == 0 { // the 1st, 2nd, 4th, 8th... refusal
		px.opts.logf("listener %s: %s; refusing more (%d refused so far)", px.name, limit, n)
	}
	reset(c)
}

// reset closes c with a TCP reset.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// forward connects c to the next backend that accepts, or answers that
// there is none.
func (px *proxy) forward(c net.Conn) {
	defer px.wg.Done()
	defer px.release()
	if !px.track(c) {
		c.Close()
		return
	}
	defer px.untrack(c)
	up, why := px.dialBackend()
	if up == nil {
		px.unavailable.Add(1)
		answerUnavailable(c, fmt.Sprintf("pilotage: listener %s has no ready replica: %s", px.name, why))
		return
	}
	if !px.track(up) {
		up.Close()
		return
	}
	defer px.untrack(up)
	px.pipe(c, up)
}

// dialBackend connects to a ready replica, waiting up to backendWait for
// one while the outage is transient. It returns the connection, or nil and
// why there is none.
func (px *proxy) dialBackend() (net.Conn, string) {
	deadline := time.Now().Add(px.opts.backendWait)
	for {
		px.mu.Lock()
		backends, outage, changed, closed := px.backends, px.outage, px.changed, px.closed
		px.mu.Unlock()
		if closed {
			return nil, "the app is stopping"
		}
		start := px.next.Add(1)
		for i := range backends {
			b := backends[(int(start)+i)%len(backends)]
			conn, err := net.DialTimeout("tcp", b, dialTimeout)
			if err != nil {
				continue
			}
			if px.isBackend(b) {
				return conn, ""
			}
			conn.Close() // withdrawn while we dialed: it is about to stop
		}
		why := outage.Reason
		if len(backends) > 0 {
			why = "no replica accepted the connection"
		}
		left := time.Until(deadline)
		if (!outage.Transient && len(backends) == 0) || left <= 0 {
			return nil, why
		}
		// Wait for the backends to change, or retry failed dials shortly.
		t := time.NewTimer(min(left, 100*time.Millisecond))
		if len(backends) == 0 {
			t.Reset(left)
		}
		select {
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}

// isBackend reports whether addr is still a backend.
func (px *proxy) isBackend(addr string) bool {
	px.mu.Lock()
	defer px.mu.Unlock()
	return slices.Contains(px.backends, addr)
}

// answerUnavailable tells the client of c that no replica can take it: a
// 503 response if its first bytes are an HTTP/1 request, else a reset.
func answerUnavailable(c net.Conn, why string) {
	_ = c.SetReadDeadline(time.Now().Add(sniffTimeout))
	buf := make([]byte, 8)
	n, _ := io.ReadFull(c, buf)
	if !looksLikeHTTP(buf[:n]) {
		reset(c)
		return
	}
	body := why + "\n"
	_ = c.SetWriteDeadline(time.Now().Add(sniffTimeout))
	fmt.Fprintf(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nRetry-After: 1\r\nConnection: close\r\n\r\n%s", len(body), body)
	if tc, ok := c.(*net.TCPConn); ok {
		// Let the client read the answer before the close: unread request
		// bytes would make the close a reset that can destroy it.
		_ = tc.CloseWrite()
		_ = c.SetReadDeadline(time.Now().Add(sniffTimeout))
		_, _ = io.Copy(io.Discard, io.LimitReader(c, 1<<20))
	}
	_ = c.Close()
}

// httpMethods are the request lines answerUnavailable recognizes.
var httpMethods = [][]byte{[]byte("GET "), []byte("HEAD "), []byte("POST "), []byte("PUT "), []byte("DELETE "),
	[]byte("OPTIONS "), []byte("PATCH "), []byte("TRACE "), []byte("CONNECT ")}

func looksLikeHTTP(b []byte) bool {
	for _, m := range httpMethods {
		if n := min(len(b), len(m)); n >= 4 && bytes.Equal(b[:n], m[:n]) {
			return true
		}
	}
	return false
}

// pipe copies both ways between the client c and the replica up until both
// directions ended or the connection was idle for idleTimeout. An end of
// one direction is passed on as a half close, as TCP does.
func (px *proxy) pipe(c, up net.Conn) {
	var last atomic.Int64 // unix nanoseconds of the last byte either way
	last.Store(time.Now().UnixNano())
	done := make(chan struct{}, 2)
	copyHalf := func(dst, src net.Conn) {
		defer func() { done <- struct{}{} }()
		buf := make([]byte, copyBuffer)
		for {
			_ = src.SetReadDeadline(time.Now().Add(px.opts.idleTimeout))
			n, err := src.Read(buf)
			if n > 0 {
				last.Store(time.Now().UnixNano())
				_ = dst.SetWriteDeadline(time.Now().Add(px.opts.idleTimeout))
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() && time.Since(time.Unix(0, last.Load())) < px.opts.idleTimeout {
					continue // the other direction is busy: not idle
				}
				if err == io.EOF {
					if tc, ok := dst.(*net.TCPConn); ok {
						_ = tc.CloseWrite()
						return
					}
				}
				break
			}
		}
		// A failure or timeout one way ends both.
		c.Close()
		up.Close()
	}
	go copyHalf(up, c)
	go copyHalf(c, up)
	<-done
	<-done
}

func (px *proxy) track(c net.Conn) bool {
	px.mu.Lock()
	defer px.mu.Unlock()
	if px.closed {
		return false
	}
	px.conns[c] = struct{}{}
	return true
}

func (px *proxy) untrack(c net.Conn) {
	px.mu.Lock()
	delete(px.conns, c)
	px.mu.Unlock()
	c.Close()
}

func (px *proxy) close() {
	px.ln.Close()
	px.mu.Lock()
	px.closed = true
	close(px.changed) // connections waiting for a backend give up
	px.changed = make(chan struct{})
	for c := range px.conns {
		c.Close()
	}
	px.mu.Unlock()
	px.wg.Wait()
}
