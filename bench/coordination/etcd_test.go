package coordination

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// sharedEtcd is the etcd server of the in-process benchmarks, in this
// process: the same server, configured as pilotage run's embedded one
// (10ms tick, 100ms election, fsync on), for every mechanism built on
// etcd. It is started once and stopped at exit.
var sharedEtcd = sync.OnceValues(func() (*etcdServer, error) {
	dir, err := os.MkdirTemp("", "bench-etcd-") // short: socket paths
	if err != nil {
		return nil, err
	}
	s, err := startEtcd(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	atExit(func() {
		if s.shared != nil {
			s.shared.Close()
		}
		s.e.Close()
		os.RemoveAll(dir)
	})
	return s, nil
})

// An etcdServer is a single-member etcd serving a Unix socket in dir.
type etcdServer struct {
	dir  string
	sock string
	e    *embed.Etcd

	once      sync.Once
	shared    *clientv3.Client
	sharedErr error
}

func startEtcd(dir string) (*etcdServer, error) {
	s := &etcdServer{dir: dir, sock: filepath.Join(dir, "etcd.sock")}
	cfg := embed.NewConfig()
	cfg.Dir = filepath.Join(dir, "data")
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	client := url.URL{Scheme: "unix", Path: s.sock}
	peer := url.URL{Scheme: "unix", Path: filepath.Join(dir, "peer.sock")}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.TickMs, cfg.ElectionMs = 10, 100
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("start etcd: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(10 * time.Second):
		e.Close()
		return nil, fmt.Errorf("etcd not ready after 10s")
	}
	s.e = e
	return s, nil
}

// newClient returns a new client of the server, quiet.
func (s *etcdServer) newClient() (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{Endpoints: []string{s.endpoint()}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
}

// client returns a client of the server the benchmarks share, to clean
// up with.
func (s *etcdServer) client() (*clientv3.Client, error) {
	s.once.Do(func() { s.shared, s.sharedErr = s.newClient() })
	return s.shared, s.sharedErr
}

// endpoint is the server's client URL.
func (s *etcdServer) endpoint() string { return "unix://" + s.sock }

// A proxy forwards a Unix socket to the etcd server until it is cut: then
// its client is cut off, as a process that died, without telling the
// server anything.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns []net.Conn
}

// newProxy listens on path and forwards to the Unix socket target.
func newProxy(path, target string) (*proxy, error) {
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	p := &proxy{ln: ln, target: target}
	go p.serve()
	return p, nil
}

func (p *proxy) endpoint() string { return "unix://" + p.ln.Addr().String() }

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
		if p.cut {
			p.mu.Unlock()
			c.Close()
			u.Close()
			return
		}
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		go pipe(c, u)
		go pipe(u, c)
	}
}

func pipe(dst, src net.Conn) {
	io.Copy(dst, src)
	dst.Close()
	src.Close()
}

// cutOff closes the listener and every connection.
func (p *proxy) cutOff() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}
