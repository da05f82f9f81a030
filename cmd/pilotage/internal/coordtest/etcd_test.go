package coordtest

import (
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// An etcdServer is an etcd member embedded in the test, its data and its
// client socket in dir, so that it can be stopped and started again on
// the same data.
//
// Clients of a server a test restarts reach it through a proxy, which
// cuts their connections as it stops: etcd would otherwise wait seconds
// for their watch streams to end.
type etcdServer struct {
	dir   string
	sock  string // the client socket
	e     *embed.Etcd
	front *proxy
}

// startEtcd starts a single-member etcd in dir (created if need be),
// reached through a proxy.
func startEtcd(t *testing.T, dir string) *etcdServer {
	t.Helper()
	s := &etcdServer{dir: dir, sock: filepath.Join(dir, "etcd.sock")}
	s.start(t)
	t.Cleanup(s.stop)
	s.front = startProxy(t, s.sock)
	return s
}

// endpoint is the client URL of the server.
func (s *etcdServer) endpoint() string {
	if s.front != nil {
		return s.front.endpoint()
	}
	return "unix://" + s.sock
}

func (s *etcdServer) start(tb testing.TB) {
	tb.Helper()
	cfg := embed.NewConfig()
	cfg.Dir = filepath.Join(s.dir, "data")
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	client := url.URL{Scheme: "unix", Path: s.sock}
	peer := url.URL{Scheme: "unix", Path: filepath.Join(s.dir, "peer.sock")}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.TickMs, cfg.ElectionMs = 10, 100
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		tb.Fatalf("start etcd: %v", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(10 * time.Second):
		e.Close()
		tb.Fatal("etcd not ready after 10s")
	}
	s.e = e
}

// stop stops the server (its data stays).
func (s *etcdServer) stop() {
	if s.e == nil {
		return
	}
	done := make(chan struct{})
	go func() {
		s.e.Close()
		close(done)
	}()
	for s.front != nil {
		s.front.cut()
		select {
		case <-done:
			s.e = nil
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
	<-done
	s.e = nil
}

// restart stops the server and starts it again on the same data.
func (s *etcdServer) restart(tb testing.TB) {
	tb.Helper()
	s.stop()
	s.start(tb)
}

// sharedEtcd is the server of the tests that do not stop it, started by
// TestMain.
var sharedEtcd *etcdServer

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "coordtest")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	tb := &mainTB{}
	sharedEtcd = &etcdServer{dir: dir, sock: filepath.Join(dir, "etcd.sock")}
	sharedEtcd.start(tb)
	defer sharedEtcd.stop()
	return m.Run()
}

// mainTB is a testing.TB for TestMain, where failing means panicking.
type mainTB struct{ testing.TB }

func (*mainTB) Helper()                      {}
func (*mainTB) Fatal(args ...any)            { panic(args) }
func (*mainTB) Fatalf(f string, args ...any) { panic(append([]any{f}, args...)) }
