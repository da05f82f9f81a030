package appfs

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/state"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// proxyApp makes, in a state root of its own, a state directory of app a
// whose control socket is a proxy to a's, counting the requests it
// passes; the test holds its lock, as a's supervisor holds a's.
func proxyApp(t *testing.T, a *testApp) (root string, requests *atomic.Int64) {
	t.Helper()
	root, err := shortTemp()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	dir := filepath.Join(root, a.name+"-proxy")
	lock, err := state.Lock(dir, a.name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lock.Close() })
	if err := state.WriteAppInfo(dir, state.AppInfo{Name: a.name, Binary: "proxy"}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", filepath.Join(dir, control.SocketName))
	if err != nil {
		t.Fatal(err)
	}
	requests = &atomic.Int64{}
	sock := filepath.Join(a.dir, control.SocketName)
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			requests.Add(1)
			r.Out.URL.Scheme, r.Out.URL.Host = "http", "pilotage"
		},
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}},
		FlushInterval: -1, // watches stream
	}
	srv := &http.Server{Handler: proxy}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return root, requests
}

func TestListAfterSyncMakesNoRequest(t *testing.T) {
	a := shared(t)
	root, requests := proxyApp(t, a)
	f := newFS(t, root)
	mustList(t, f, "/apps/shop/components/a.A/replicas")
	synced := requests.Load()
	if synced != 1 {
		t.Errorf("the first List made %d requests, want 1 (the watch)", synced)
	}
	for range 100 {
		for _, p := range []string{"/apps", "/apps/shop", "/apps/shop/components", "/apps/shop/components/a.A", "/apps/shop/components/a.A/replicas",
			"/apps/shop/components/a.A/replicas/0", "/apps/shop/config", "/apps/shop/units/sleeper"} {
			mustList(t, f, p)
		}
		for _, p := range []string{"/apps/shop", "/apps/shop/components/a.A/replicas/1/env", "/apps/shop/listeners/web", "/apps/shop/startup"} {
			mustStat(t, f, p)
		}
	}
	if n := requests.Load(); n != synced {
		t.Errorf("1200 Lists and Stats after the sync made %d requests", n-synced)
	}
	// A Read is a request.
	mustRead(t, f, "/apps/shop/components/a.A/status", tree.ReadOptions{})
	if n := requests.Load(); n != synced+1 {
		t.Errorf("a Read made %d requests, want 1", n-synced)
	}
}

func TestKilledSupervisor(t *testing.T) {
	a := startApp(t, appSpec{name: "doomed", desc: sharedDesc(), config: "[run]\nreplicas = 1\n"})
	f := newFS(t, a.root)
	if got := names(mustList(t, f, "/apps")); !slices.Equal(got, []string{"doomed"}) {
		t.Fatalf("ls /apps = %v", got)
	}
	mustList(t, f, "/apps/doomed/components")

	// A stopped replica has no process to exec in.
	msg, err := f.Act(testContext(t), "/apps/doomed/components/b.B", "stop")
	if err != nil || msg != "component b.B: stopped" {
		t.Fatalf("stop b.B = %q, %v", msg, err)
	}
	_, err = f.Exec(testContext(t), "/apps/doomed/components/b.B/replicas/0", tree.ExecRequest{Command: []string{"true"}})
	if !errors.Is(err, tree.ErrConflict) || !strings.Contains(err.Error(), "replica b.B/0 has no process now (stopped)") || strings.Contains(err.Error(), "\n") {
		t.Errorf("exec in a stopped replica = %v, want one line wrapping ErrConflict", err)
	}

	// A supervisor that does not answer: left out of /apps, and a path
	// into it says so, after a bounded wait.
	defer func(s, l time.Duration) { syncTimeout, listWait = s, l }(syncTimeout, listWait)
	syncTimeout, listWait = time.Second, time.Second
	pause(t, a.cmd.Process.Pid)
	paused := newFS(t, a.root)
	if nodes, err := paused.List(testContext(t), "/apps"); err != nil || len(nodes) != 0 {
		t.Errorf("ls /apps with the supervisor paused = %v, %v; want none", names(nodes), err)
	}
	_, err = paused.Stat(testContext(t), "/apps/doomed/components")
	if !errors.Is(err, tree.ErrUnavailable) || !strings.HasPrefix(err.Error(), "app doomed does not answer (its supervisor at "+a.dir) {
		t.Errorf("Stat with the supervisor paused = %v", err)
	}
	if err := a.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}

	a.kill()
	want := "app doomed is not running (its supervisor at " + a.dir + " does not answer)"
	for _, p := range []string{"/apps/doomed/components/a.A", "/apps/doomed"} {
		eventually(t, "Stat("+p+") to fail", func() bool {
			_, err := f.Stat(testContext(t), p)
			return err != nil
		})
		_, err := f.Stat(testContext(t), p)
		if !errors.Is(err, tree.ErrUnavailable) || err.Error() != want {
			t.Errorf("Stat(%s) = %v, want %q wrapping ErrUnavailable", p, err, want)
		}
	}
	_, err = f.Read(testContext(t), "/apps/doomed/components/a.A/status", tree.ReadOptions{})
	if !errors.Is(err, tree.ErrUnavailable) || err.Error() != want {
		t.Errorf("Read = %v, want %q", err, want)
	}
	eventually(t, "the app to leave /apps", func() bool {
		nodes, err := f.List(testContext(t), "/apps")
		return err == nil && len(nodes) == 0
	})
	time.Sleep(rescanInterval) // the apps are read again
	_, err = f.List(testContext(t), "/apps/doomed/components")
	if !errors.Is(err, tree.ErrUnavailable) || err.Error() != want || strings.Contains(err.Error(), "\n") {
		t.Errorf("List = %v, want %q", err, want)
	}
}
