package coordserver

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// shortDir returns a fresh directory whose path fits a socket address
// (t.TempDir's may not).
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "cs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// lines collects what a Server logs.
type lines struct {
	mu sync.Mutex
	l  []string
}

func (l *lines) log(line string) { l.mu.Lock(); l.l = append(l.l, line); l.mu.Unlock() }
func (l *lines) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.l...)
}

func start(t *testing.T, dir string, log *lines) *Server {
	t.Helper()
	s, err := Start(context.Background(), Options{Dir: dir, Log: log.log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func client(t *testing.T, s *Server) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{s.Endpoint()}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The store starts in a private directory, serves on a socket there, and
// keeps what was written across a restart on the same directory; fsync
// is on.
func TestStartPutRestart(t *testing.T) {
	dir := filepath.Join(shortDir(t), "etcd")
	var log lines
	s := start(t, dir, &log)
	t.Logf("store ready in %s", s.ReadyIn())
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data directory: %v, %v; want mode 0700", fi.Mode(), err)
	}
	if want := "unix://" + filepath.Join(dir, "etcd.sock"); s.Endpoint() != want {
		t.Errorf("endpoint %s, want %s", s.Endpoint(), want)
	}
	if s.etcd.Config().UnsafeNoFsync {
		t.Error("fsync is off")
	}
	c := client(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	put, err := c.Put(ctx, "k", "v1")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = start(t, dir, &log)
	t.Logf("store ready again in %s", s.ReadyIn())
	c = client(t, s)
	defer c.Close()
	got, err := c.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Kvs) != 1 || string(got.Kvs[0].Value) != "v1" || got.Kvs[0].ModRevision != put.Header.Revision {
		t.Errorf("after a restart: %v, want k=v1 at revision %d", got.Kvs, put.Header.Revision)
	}
	// Revisions (and so fencing tokens) keep growing.
	again, err := c.Put(ctx, "k", "v2")
	if err != nil {
		t.Fatal(err)
	}
	if again.Header.Revision <= put.Header.Revision {
		t.Errorf("revision %d after the restart, want more than %d", again.Header.Revision, put.Header.Revision)
	}
	c.Close()
	s.Close()
	if l := log.all(); len(l) > 0 {
		t.Errorf("logged %q, want nothing (closing is quiet)", l)
	}
}

// A second store on a directory in use fails at once, saying so.
func TestDirInUse(t *testing.T) {
	dir := shortDir(t)
	start(t, dir, &lines{})
	begin := time.Now()
	_, err := Start(context.Background(), Options{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("second Start: %v, want an error saying the directory is in use", err)
	}
	if d := time.Since(begin); d > time.Second {
		t.Errorf("the second Start took %s to fail", d)
	}
}

// A directory open to others is refused: its socket is the store's only
// gate.
func TestDirOpenToOthers(t *testing.T) {
	dir := shortDir(t)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Start(context.Background(), Options{Dir: dir}); err == nil || !strings.Contains(err.Error(), "open to others") {
		t.Fatalf("Start: %v, want an error about the directory's mode", err)
	}
}

// A directory whose socket path would not fit a socket address gets its
// socket in a private temporary directory, removed at Close.
func TestLongDir(t *testing.T) {
	dir := filepath.Join(shortDir(t), strings.Repeat("d", 100))
	s := start(t, dir, &lines{})
	sock := strings.TrimPrefix(s.Endpoint(), "unix://")
	if len(sock) > maxSocketPath || !strings.HasPrefix(sock, os.TempDir()) {
		t.Errorf("socket %s, want a short path in %s", sock, os.TempDir())
	}
	c := client(t, s)
	if _, err := c.Put(context.Background(), "k", "v"); err != nil {
		t.Error(err)
	}
	c.Close()
	s.Close()
	if _, err := os.Stat(filepath.Dir(sock)); !os.IsNotExist(err) {
		t.Errorf("socket directory after Close: %v, want it gone", err)
	}
}

// Close leaves no goroutine, listener or socket file behind.
func TestCloseLeavesNothing(t *testing.T) {
	before := runtime.NumGoroutine()
	s := start(t, shortDir(t), &lines{})
	sock := strings.TrimPrefix(s.Endpoint(), "unix://")
	peer := s.etcd.Peers[0].Listener.Addr().String()
	c := client(t, s)
	if _, err := c.Put(context.Background(), "k", "v"); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket file after Close: %v", err)
	}
	for _, a := range []struct{ network, addr string }{{"unix", sock}, {"tcp", peer}} {
		if conn, err := net.DialTimeout(a.network, a.addr, time.Second); err == nil {
			conn.Close()
			t.Errorf("%s %s still accepts after Close", a.network, a.addr)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after Close, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The peer port, on loopback, serves nobody without the store's own
// certificate: another local user cannot reach etcd's peer API there.
func TestPeerPortClosedToOthers(t *testing.T) {
	s := start(t, shortDir(t), &lines{})
	peer := s.etcd.Peers[0].Listener.Addr().String()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := c.Get("https://" + peer + "/members")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("GET /members on the peer port without a certificate: %s, want the connection refused", resp.Status)
	}
	if !strings.Contains(err.Error(), "certificate") {
		t.Errorf("GET /members on the peer port without a certificate: %v, want a TLS error asking for one", err)
	}
}
