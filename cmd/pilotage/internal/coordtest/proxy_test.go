package coordtest

import (
	"net"
	"path/filepath"
	"sync"
	"testing"
)

// A proxy forwards a Unix socket to another, so that a test can cut the
// connections of a client (it reconnects) or pause them (a partition:
// nothing goes through, nothing fails).
type proxy struct {
	sock   string
	target string
	ln     net.Listener

	mu     sync.Mutex
	conns  []net.Conn
	paused chan struct{} // closed while not paused
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	p := &proxy{sock: filepath.Join(t.TempDir(), "proxy.sock"), target: target, paused: make(chan struct{})}
	close(p.paused)
	ln, err := net.Listen("unix", p.sock)
	if err != nil {
		t.Fatal(err)
	}
	p.ln = ln
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.cut() })
	return p
}

func (p *proxy) endpoint() string { return "unix://" + p.sock }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("unix", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		go p.pipe(c, u)
		go p.pipe(u, c)
	}
}

// pipe copies src to dst, holding what it read while paused.
func (p *proxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			gate := p.paused
			p.mu.Unlock()
			<-gate
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// cut closes every connection: the client sees them fail and reconnects.
func (p *proxy) cut() {
	p.mu.Lock()
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// pause holds every byte until resume.
func (p *proxy) pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paused = make(chan struct{})
}

func (p *proxy) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.paused:
	default:
		close(p.paused)
	}
}
