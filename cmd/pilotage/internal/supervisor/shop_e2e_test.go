package supervisor

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/internal/config"
)

// shopApp returns the example shop, built once per test binary: its
// directory, binary and configuration, with the listener on a free port
// rather than the fixed 8080.
func shopApp(t *testing.T) (dir, bin string, cfg *config.File) {
	t.Helper()
	bin, err := buildShop()
	if err != nil {
		t.Fatal(err)
	}
	if dir, err = filepath.Abs("../../../../examples/shop"); err != nil {
		t.Fatal(err)
	}
	if cfg, err = config.Read(filepath.Join(dir, "pilotage.toml")); err != nil {
		t.Fatal(err)
	}
	cfg.Listeners["shop"] = config.Listener{Address: "127.0.0.1:0"}
	return dir, bin, cfg
}

// startShop runs the example shop with the given RPC network until the test
// ends, and returns once it is ready, with its state directory.
func startShop(t *testing.T, rpcNetwork string) (s *Supervisor, dir string) {
	t.Helper()
	shopDir, bin, cfg := shopApp(t)
	out := &syncBuffer{}
	dir = stateDir(t)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := New(ctx, Options{App: "shop", Binary: bin, Dir: shopDir, Config: cfg, ConfigPath: filepath.Join(shopDir, "pilotage.toml"),
		StateDir: dir, Stdout: out, StopTimeout: 3 * time.Second, KillTimeout: time.Second, RPCNetwork: rpcNetwork})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if t.Failed() {
			t.Logf("output:\n%s", out.String())
		}
	})
	select {
	case <-s.Ready():
	case err := <-done:
		done <- err // for the cleanup
		t.Fatalf("Run returned: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the shop was not ready within 20s")
	}
	return s, dir
}

// The example shop runs as processes with the real proclet side: it serves
// through the listener proxy, a stopped component fails its callers fast,
// and comes back on start.
func TestShopEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds examples/shop")
	}
	t.Parallel()
	s, dir := startShop(t, "")
	ctx := t.Context()
	st := s.Status()
	base := "http://" + st.Proxies[0].Address
	get := func() (int, string) {
		t.Helper()
		c := http.Client{Timeout: 5 * time.Second}
		resp, err := c.Get(base + "/api/products")
		if err != nil {
			t.Fatalf("GET: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(); code != 200 || !strings.Contains(body, "mug") {
		t.Fatalf("GET /api/products: %d %s", code, body)
	}

	cl := control.Dial(dir)
	defer cl.Close()
	if res, err := cl.Stop(ctx, "catalog.Catalog"); err != nil || res.State != control.Stopped {
		t.Fatalf("stop catalog: %+v, %v", res, err)
	}
	t0 := time.Now()
	if code, body := get(); code == 200 {
		t.Errorf("GET with catalog stopped: %d %s", code, body)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("a call to a stopped component took %v, want it to fail fast", d)
	}
	if res, err := cl.Start(ctx, "catalog.Catalog"); err != nil || res.State != control.Ready {
		t.Fatalf("start catalog: %+v, %v", res, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for code, body := get(); code != 200; code, body = get() {
		if time.Now().After(deadline) {
			t.Fatalf("GET after the catalog restarted: %d %s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// With RPCNetwork "tcp" the replicas serve each other on loopback TCP
// ports, as between pods: every replica advertises one, and the shop's
// calls go through them.
func TestShopOverTCP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds examples/shop")
	}
	t.Parallel()
	s, _ := startShop(t, "tcp")
	st := s.Status()
	for _, u := range st.Units {
		for _, r := range u.Replicas {
			if !strings.HasPrefix(r.RPCAddress, "tcp:127.0.0.1:") {
				t.Errorf("%s replica %d serves RPC at %q, want a loopback TCP port", u.Name, r.Index, r.RPCAddress)
			}
		}
	}
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + st.Proxies[0].Address + "/api/products")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || !strings.Contains(string(b), "mug") {
		t.Fatalf("GET /api/products: %d %s", resp.StatusCode, b)
	}
}

// An RPCNetwork other than unix or tcp is refused.
func TestRPCNetworkChecked(t *testing.T) {
	_, err := New(context.Background(), Options{App: "a", Binary: "/nonexistent", StateDir: t.TempDir(), RPCNetwork: "udp"})
	if err == nil || !strings.Contains(err.Error(), `RPCNetwork "udp"`) {
		t.Fatalf("New with RPCNetwork udp: %v", err)
	}
}
