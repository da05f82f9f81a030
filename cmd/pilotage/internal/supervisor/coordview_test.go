package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/coord"
)

// storeOf waits for h's coordination store and opens a session of the
// test with it, as replica.
func storeOf(t *testing.T, h *harness, replica string) *coord.Store {
	t.Helper()
	h.eventually("the coordination store", func() bool { return h.status().Coordination != nil })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := coord.Connect(ctx, coord.Options{Endpoints: []string{"unix://" + filepath.Join(h.dir, "etcd", "etcd.sock")}, Prefix: "/pilotage/test/",
		Replica: replica, PID: os.Getpid(), DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// nextEvent returns the next event of w that is not a BOOKMARK, within 5s.
func nextEvent(t *testing.T, w *control.Watch) api.Event {
	t.Helper()
	type result struct {
		ev  api.Event
		err error
	}
	ch := make(chan result, 1)
	go func() {
		for {
			ev, err := w.Next()
			if err != nil || ev.Type != api.Bookmark {
				ch <- result{ev, err}
				return
			}
		}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("watch: %v", r.err)
		}
		return r.ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
	}
	return api.Event{}
}

// lockEvent waits for the next event of w about lock path and returns its
// status.
func lockEvent(t *testing.T, w *control.Watch, want api.EventType, path string) api.LockStatus {
	t.Helper()
	for {
		ev := nextEvent(t, w)
		if ev.Resource.Path != path {
			continue
		}
		if ev.Type != want {
			t.Fatalf("event %s of %s, want %s", ev.Type, path, want)
		}
		var st api.LockStatus
		if err := ev.Resource.DecodeStatus(&st); err != nil {
			t.Fatal(err)
		}
		return st
	}
}

// The control API shows the store's locks, leaders and config keys, kept
// current by a watch: a lock taken, waited for, released by force (which
// fences its holder out) and unlocked is a stream of events; a config key
// is read, written and deleted through /v2/value, and a value its
// registered type refuses is a 400 with the store's message.
func TestCoordinationResources(t *testing.T) {
	t.Parallel()
	h := start(t, desc("*main.Main"), "")
	h.waitReady()
	holder, waiter := storeOf(t, h, "holder"), storeOf(t, h, "waiter")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	w, err := h.cl.Watch(ctx, "/apps/test/locks", control.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if ev := nextEvent(t, w); ev.Type != api.Added || ev.Resource.Path != "/apps/test/locks" {
		t.Fatalf("first event %s %s, want the collection ADDED", ev.Type, ev.Resource.Path)
	}

	l, err := holder.Lock(ctx, "job")
	if err != nil {
		t.Fatal(err)
	}
	st := lockEvent(t, w, api.Added, "/apps/test/locks/job")
	if want := fmt.Sprintf("holder pid %d", os.Getpid()); st.Holder != want || st.Token != l.Token() || st.Waiters != 0 {
		t.Errorf("lock added: %+v, want holder %q token %d", st, want, l.Token())
	}
	got := make(chan *coord.Lock, 1)
	go func() {
		next, err := waiter.Lock(ctx, "job")
		if err != nil {
			t.Errorf("waiter: %v", err)
		}
		got <- next
	}()
	if st := lockEvent(t, w, api.Modified, "/apps/test/locks/job"); st.Waiters != 1 {
		t.Errorf("lock waited for: %+v", st)
	}
	r, err := h.cl.Get(ctx, "/apps/test/locks/job")
	if err != nil || !r.Accepts(api.ActionRelease) {
		t.Fatalf("get: %+v, %v", r, err)
	}
	if err := r.DecodeStatus(&st); err != nil || time.Until(st.Expires) <= 0 || time.Until(st.Expires) > 5*time.Second {
		t.Errorf("a get shows when the holder's lease expires: %+v, %v", st, err)
	}

	// Released by force: the holder is fenced out; the waiter gets it.
	res, err := h.cl.Act(ctx, "/apps/test/locks/job", api.ActionRelease)
	if err != nil {
		t.Fatal(err)
	}
	if res.Lock == nil || res.Lock.Token != l.Token() || !strings.Contains(res.Message, "released from holder pid") {
		t.Errorf("release: %+v", res)
	}
	select {
	case <-l.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the holder's lock context is not cancelled")
	}
	if _, err := l.Put(ctx, "ledger", []byte("stale")); !errors.Is(err, coord.ErrFenced) {
		t.Errorf("the old holder's fenced put: %v, want ErrFenced", err)
	}
	next := <-got
	if next == nil {
		t.FailNow()
	}
	if st := lockEvent(t, w, api.Modified, "/apps/test/locks/job"); st.Token <= l.Token() || st.Token != next.Token() || !strings.HasPrefix(st.Holder, "waiter pid") {
		t.Errorf("after the release: %+v, want the waiter with token %d > %d", st, next.Token(), l.Token())
	}
	if err := next.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	lockEvent(t, w, api.Deleted, "/apps/test/locks/job")
	if _, err := h.cl.Act(ctx, "/apps/test/locks/job", api.ActionRelease); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("release of a free lock: %v", err)
	}

	// Leaders.
	if _, err := holder.Election("coordinator").Campaign(ctx, "10.0.0.1:9000"); err != nil {
		t.Fatal(err)
	}
	h.eventually("the leader in the tree", func() bool {
		r, err := h.cl.Get(ctx, "/apps/test/leaders/coordinator")
		var ls api.LeaderStatus
		return err == nil && r.DecodeStatus(&ls) == nil && ls.Value == "10.0.0.1:9000" && ls.Candidates == 1 && strings.HasPrefix(ls.Holder, "holder pid") && ls.Token > 0
	})

	// Config keys: typed and not, values through /v2/value.
	type limits struct{ Rate int }
	if _, err := coord.Config(ctx, holder, "limits/api", limits{Rate: 10}); err != nil {
		t.Fatal(err)
	}
	path, _ := control.ConfigPath("test", "limits/api")
	cv, err := h.cl.PutValue(ctx, path, []byte(`{"Rate": 20}`))
	if err != nil || !cv.Typed || cv.Revision == 0 {
		t.Fatalf("put: %+v, %v", cv, err)
	}
	// The tree shows a write once it is answered.
	l2, err := h.cl.List(ctx, "/apps/test/config", false)
	if err != nil || len(l2.Items) != 1 || l2.Items[0].Path != "/apps/test/config/limits%2Fapi" {
		t.Fatalf("config list: %+v, %v", l2, err)
	}
	var ks api.ConfigKeyStatus
	if err := l2.Items[0].DecodeStatus(&ks); err != nil || ks.Key != "limits/api" || !ks.Typed || ks.Size != len(`{"Rate": 20}`) || ks.Revision != cv.Revision {
		t.Errorf("config key: %+v, %v", ks, err)
	}
	if _, err := h.cl.PutValue(ctx, path, []byte(`{"Rate": "fast"}`)); !errors.Is(err, api.ErrBadRequest) || !strings.Contains(err.Error(), "does not decode into its registered type") {
		t.Errorf("put of a value of the wrong type: %v", err)
	}
	if cv, err := h.cl.Value(ctx, path); err != nil || cv.Value != `{"Rate": 20}` || !cv.Typed {
		t.Errorf("get: %+v, %v", cv, err)
	}
	if cv, err := h.cl.DeleteValue(ctx, path); err != nil || !cv.Deleted {
		t.Errorf("delete: %+v, %v", cv, err)
	}
	if _, err := h.cl.Get(ctx, path); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("the tree shows a deleted key: %v", err)
	}
	if _, err := h.cl.Value(ctx, path); !errors.Is(err, api.ErrNotFound) || !strings.Contains(err.Error(), `no config key "limits/api"`) {
		t.Errorf("get of a deleted key: %v", err)
	}

	// Bad names and paths.
	for _, tc := range []struct {
		path string
		want error
		msg  string
	}{
		{"/apps/test/locks/job", api.ErrBadRequest, "not the path of a config key"},
		{"/apps/test/config", api.ErrBadRequest, "not the path of a config key"},
		{api.Join("apps", "test", "config", strings.Repeat("k", coord.MaxKeySize+1)), api.ErrBadRequest, "over the limit"},
	} {
		if _, err := h.cl.PutValue(ctx, tc.path, []byte("1")); !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("put %s: %v, want %q", tc.path[:min(len(tc.path), 40)], err, tc.msg)
		}
	}
	if _, err := h.cl.Act(ctx, api.Join("apps", "test", "locks", "a/b"), api.ActionRelease); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("release of a lock that cannot exist: %v", err)
	}
}

// A burst of writes to the store costs the supervisor a few reads of it,
// not one per write.
func TestCoordinationViewCoalesces(t *testing.T) {
	t.Parallel()
	h := start(t, desc("*main.Main"), "")
	h.waitReady()
	store := storeOf(t, h, "writer")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	h.s.mu.Lock()
	v := h.s.coord.viewOf()
	h.s.mu.Unlock()
	if v == nil {
		t.Fatal("no view of the store")
	}
	before := v.reads.Load()
	const writes = 200
	begun := time.Now()
	for i := range writes {
		if _, err := store.Put(ctx, fmt.Sprintf("burst/%03d", i), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	took := time.Since(begun)
	h.eventually("every key in the tree", func() bool {
		l, err := h.cl.List(ctx, "/apps/test/config", false)
		return err == nil && len(l.Items) == writes
	})
	reads := v.reads.Load() - before
	// One read per coordCoalesce at most, and one after the last write.
	if limit := int64(took/coordCoalesce) + 3; reads > limit || reads >= writes/4 {
		t.Errorf("%d writes in %s made %d reads of the store (limit %d)", writes, took, reads, limit)
	}
	t.Logf("%d writes in %s: %d reads", writes, took.Round(time.Millisecond), reads)
}
