package supervisor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/coordserver"
	"github.com/pilotage/pilotage/coord"
)

// connect opens a session of the test with the store at endpoint.
func connect(t *testing.T, endpoint string) *coord.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := coord.Connect(ctx, coord.Options{Endpoints: []string{endpoint}, Prefix: "/pilotage/test/", Replica: "test", PID: os.Getpid(), DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// lockState returns the state of lock name, and whether anyone holds or
// waits for it.
func lockState(t *testing.T, s *coord.Store, name string) (coord.LockState, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	locks, err := s.Locks(ctx)
	if err != nil {
		t.Fatalf("locks: %v", err)
	}
	for _, l := range locks {
		if l.Name == name {
			return l, true
		}
	}
	return coord.LockState{}, false
}

// The supervisor embeds the store in the state directory and names it to
// every proclet; when the process holding a lock is killed (kill -9), the
// supervisor revokes its session at once, and the lock passes to the
// replica waiting for it, long before the session's TTL (2s) would end it.
func TestCoordinationKilledHolderReplaced(t *testing.T) {
	t.Parallel()
	h := start(t, desc("*main.Main:c.C", "c.C"), "[run]\nreplicas = 1\n[run.components.\"c.C\"]\nreplicas = 2\n", "FAKE_LOCK=c.C=job")
	h.waitReady()
	endpoint := "unix://" + filepath.Join(h.dir, "etcd", "etcd.sock")
	want := &api.CoordinationStatus{Embedded: true, Endpoints: []string{endpoint}, Prefix: "/pilotage/test/"}
	if c := h.status().Coordination; c == nil || c.Embedded != want.Embedded || !slices.Equal(c.Endpoints, want.Endpoints) || c.Prefix != want.Prefix {
		t.Errorf("status: coordination %+v, want %+v", c, want)
	}
	if out := h.output(); !strings.Contains(out, "coordination store embedded at "+endpoint+", ready in ") {
		t.Errorf("output does not say where the store is and how long it took:\n%s", out)
	}

	store := connect(t, endpoint)
	var held coord.LockState
	h.eventually("one replica holding the lock and the other waiting", func() bool {
		l, ok := lockState(t, store, "job")
		held = l
		return ok && l.Holder != "" && l.Waiters == 1
	})
	var replica string
	var pid int
	if _, err := fmt.Sscanf(held.Holder, "%s pid %d", &replica, &pid); err != nil || !strings.HasPrefix(replica, "c.C/") {
		t.Fatalf("holder %q: want a replica of c.C and its pid", held.Holder)
	}
	if !slices.Contains(pids(h.unit("c.C")), pid) {
		t.Fatalf("holder pid %d is not a replica of c.C (%v)", pid, pids(h.unit("c.C")))
	}

	killed := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	const bound = time.Second // the TTL is 2s, renewed every 500ms
	for {
		l, ok := lockState(t, store, "job")
		if !ok || l.Holder != held.Holder {
			t.Logf("kill -9 of the holder -> lock passed to %q in %s", l.Holder, time.Since(killed).Round(time.Millisecond))
			if ok && l.Token <= held.Token {
				t.Errorf("new holder's token %d, want more than %d", l.Token, held.Token)
			}
			break
		}
		if time.Since(killed) > bound {
			t.Fatalf("the lock still held by the killed %s %s after the kill", held.Holder, bound)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// At startup, the supervisor revokes every session its replicas' names
// have in the store: they are a previous run's, whatever their TTL says.
// Here the stale holder even stays alive and keeps renewing; the new
// replica of its name gets the lock all the same.
func TestCoordinationStaleSessionsRevoked(t *testing.T) {
	t.Parallel()
	dir := stateDir(t)
	srv, err := coordserver.Start(context.Background(), coordserver.Options{Dir: filepath.Join(dir, "etcd")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stale, err := coord.Connect(ctx, coord.Options{Endpoints: []string{srv.Endpoint()}, Prefix: "/pilotage/test/", Replica: "c.C/0", PID: 4242, DialTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer stale.Close()
	if _, err := stale.TryLock(ctx, "job"); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil { // as a crashed run's store: the session is left
		t.Fatal(err)
	}

	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	h := launch(t, Options{App: "test", Binary: self, StateDir: dir, Config: mustConfig("[run]\nreplicas = 1\n"), Description: desc("*main.Main:c.C", "c.C"), Env: []string{"FAKE_LOCK=c.C=job"}})
	h.waitReady()
	h.eventually("the new c.C/0 to take the lock", func() bool { return strings.Contains(h.output(), "locked ") })
	if out := h.output(); !strings.Contains(out, "revoked 1 sessions a previous run left") {
		t.Errorf("output does not say a stale session was revoked:\n%s", out)
	}
}

// With [coordination] endpoints, the supervisor embeds nothing and hands
// them on.
func TestCoordinationExternal(t *testing.T) {
	t.Parallel()
	srv, err := coordserver.Start(context.Background(), coordserver.Options{Dir: filepath.Join(stateDir(t), "etcd")})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	h := start(t, desc("*main.Main:c.C", "c.C"), fmt.Sprintf("[run]\nreplicas = 1\n[coordination]\nendpoints = [%q]\n", srv.Endpoint()), "FAKE_LOCK=c.C=job")
	h.waitReady()
	if c := h.status().Coordination; c == nil || c.Embedded || !slices.Equal(c.Endpoints, []string{srv.Endpoint()}) || c.Prefix != "/pilotage/test/" {
		t.Errorf("status: coordination %+v, want the external endpoint", c)
	}
	h.eventually("c.C to take the lock", func() bool { return strings.Contains(h.output(), "locked ") })
	if _, err := os.Stat(filepath.Join(h.dir, "etcd")); !os.IsNotExist(err) {
		t.Errorf("the state directory has an etcd directory (%v): want nothing embedded", err)
	}
	h.shutdown() // before the store stops
}

// An external store that cannot be reached is a startup error, within a
// bound, that names it.
func TestCoordinationUnreachable(t *testing.T) {
	defer func(d time.Duration) { coordConnectTimeout = d }(coordConnectTimeout)
	coordConnectTimeout = 300 * time.Millisecond
	endpoint := "unix://" + filepath.Join(stateDir(t), "no-etcd.sock")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	s, err := New(context.Background(), Options{App: "test", Binary: self, StateDir: stateDir(t), Stdout: out,
		Config: mustConfig(fmt.Sprintf("[run]\nreplicas = 1\n[coordination]\nendpoints = [%q]\n", endpoint)), Description: desc("*main.Main")})
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	err = s.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "coordination store at "+endpoint) {
		t.Errorf("Run: %v, want an error naming the store", err)
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("Run failed after %s", d)
	}
}

// An app binary that does not link the coordination API is told apart
// from one that does: its replicas need not wait for the store, nor does
// the app stop if the store fails.
func TestLinksCoord(t *testing.T) {
	if testing.Short() {
		t.Skip("builds examples/shop and examples/wordcount")
	}
	t.Parallel()
	shop, err := buildShop()
	if err != nil {
		t.Fatal(err)
	}
	wordcount, err := buildWordcount()
	if err != nil {
		t.Fatal(err)
	}
	self, _ := os.Executable()
	for bin, want := range map[string]bool{shop: false, wordcount: true, self: true /* no module information */} {
		if got := LinksCoord(bin); got != want {
			t.Errorf("LinksCoord(%s) = %v, want %v", bin, got, want)
		}
	}
}
