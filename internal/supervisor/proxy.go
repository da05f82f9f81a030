package supervisor

import (
	"fmt"
	"io"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// A proxy serves one named listener on its public address and forwards each
// connection to a ready replica's listener, round-robin.
type proxy struct {
	name string
	ln   net.Listener

	mu       sync.Mutex
	backends []string
	conns    map[net.Conn]struct{}
	closed   bool
	next     atomic.Uint64
	wg       sync.WaitGroup
}

// startProxies listens on every listener's public address.
func (s *Supervisor) startProxies() error {
	names := make([]string, 0, len(s.plan.Listeners))
	for name := range s.plan.Listeners {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		addr := s.plan.Listeners[name]
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			s.closeProxies()
			return fmt.Errorf("listener %s: %w", name, err)
		}
		px := &proxy{name: name, ln: ln, conns: map[net.Conn]struct{}{}}
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

func (px *proxy) setBackends(b []string) {
	px.mu.Lock()
	px.backends = b
	px.mu.Unlock()
}

func (px *proxy) snapshot() []string {
	px.mu.Lock()
	defer px.mu.Unlock()
	return append([]string(nil), px.backends...)
}

func (px *proxy) serve() {
	defer px.wg.Done()
	for {
		c, err := px.ln.Accept()
		if err != nil {
			return // closed
		}
		px.wg.Add(1)
		go px.forward(c)
	}
}

// forward connects c to the next backend that accepts, or closes it.
func (px *proxy) forward(c net.Conn) {
	defer px.wg.Done()
	if !px.track(c) {
		c.Close()
		return
	}
	defer px.untrack(c)
	backends := px.snapshot()
	var up net.Conn
	start := px.next.Add(1)
	for i := range backends {
		b := backends[(int(start)+i)%len(backends)]
		conn, err := net.DialTimeout("tcp", b, 2*time.Second)
		if err == nil {
			up = conn
			break
		}
	}
	if up == nil {
		return // no ready replica: the client sees the connection close
	}
	if !px.track(up) {
		up.Close()
		return
	}
	defer px.untrack(up)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
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
	for c := range px.conns {
		c.Close()
	}
	px.mu.Unlock()
	px.wg.Wait()
}
