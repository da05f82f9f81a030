package control_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/controltest"
)

// serve serves b on a control socket in a new directory and returns a
// client of it.
func serve(t *testing.T, b control.Backend) *control.Client {
	t.Helper()
	dir, err := os.MkdirTemp("", "pc") // short: a socket path is bounded
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	srv, err := control.Listen(dir, b, control.Options{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if fi, err := os.Stat(filepath.Join(dir, control.SocketName)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket: %v, %v", fi, err)
	}
	c := control.Dial(dir)
	t.Cleanup(c.Close)
	return c
}

// shop returns a backend serving app shop with component cart.Cart (two
// replicas, one of them shared with a second component of another
// package of the same short name) and unit redis.
func shop(t *testing.T) *controltest.Backend {
	t.Helper()
	b := controltest.New()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	acts := []string{api.ActionStop, api.ActionStart, api.ActionRestart}
	must(b.Set(api.KindApp, "/apps/shop", api.AppStatus{State: api.Ready, PID: 1, StateDir: "/state"}))
	must(b.Set(api.KindCollection, "/apps/shop/listeners", nil))
	must(b.Set(api.KindComponent, "/apps/shop/components/cart.Cart", api.ComponentStatus{FullName: "example.com/shop/cart.Cart", Group: "cart.Cart", State: api.Ready, Replicas: 2}, acts...))
	must(b.Set(api.KindComponent, "/apps/shop/components/"+pathEscape("example.com/a/store.Store"), api.ComponentStatus{FullName: "example.com/a/store.Store", Group: "g", State: api.Ready}, acts...))
	must(b.Set(api.KindComponent, "/apps/shop/components/"+pathEscape("example.com/b/store.Store"), api.ComponentStatus{FullName: "example.com/b/store.Store", Group: "g", State: api.Ready}, acts...))
	for i := range 2 {
		must(b.Set(api.KindReplica, fmt.Sprintf("/apps/shop/components/cart.Cart/replicas/%d", i), api.ReplicaStatus{Index: i, State: api.Ready}, api.ActionRestart))
	}
	must(b.Set(api.KindUnit, "/apps/shop/units/redis", api.UnitStatus{State: api.Starting}, acts...))
	return b
}

func pathEscape(s string) string { return strings.ReplaceAll(s, "/", "%2F") }

func TestGetAndList(t *testing.T) {
	c := serve(t, shop(t))
	ctx := context.Background()
	r, err := c.Get(ctx, "/apps/shop/components/cart.Cart")
	if err != nil {
		t.Fatal(err)
	}
	var cs api.ComponentStatus
	if err := r.DecodeStatus(&cs); err != nil || r.Kind != api.KindComponent || r.Name != "cart.Cart" || cs.Replicas != 2 || r.ResourceVersion == 0 || !r.Accepts("restart") {
		t.Errorf("get cart.Cart: %+v, %+v, %v", r, cs, err)
	}
	// An element holding '/' is one element, escaped.
	full := api.Join("apps", "shop", "components", "example.com/a/store.Store")
	if r, err := c.Get(ctx, full); err != nil || r.Name != "example.com/a/store.Store" || r.Path != full {
		t.Errorf("get %s: %+v, %v", full, r, err)
	}
	// Collections are made up, and counted.
	l, err := c.List(ctx, "/apps/shop", false)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, it := range l.Items {
		names = append(names, it.Name)
	}
	if got := strings.Join(names, " "); got != "components listeners units" || l.ResourceVersion == 0 {
		t.Errorf("list /apps/shop: %q at %d", got, l.ResourceVersion)
	}
	var coll api.CollectionStatus
	if err := l.Items[0].DecodeStatus(&coll); err != nil || coll.Items != 3 {
		t.Errorf("components: %+v, %v", coll, err)
	}
	all, err := c.List(ctx, "/", true)
	if err != nil || len(all.Items) != 12 {
		t.Errorf("list / recursively: %d items, %v", len(all.Items), err)
	}
	if l, err := c.List(ctx, "/apps/shop/listeners", false); err != nil || len(l.Items) != 0 {
		t.Errorf("an empty collection: %+v, %v", l, err)
	}
}

// Failures carry their code to the client, where errors.Is tells them
// apart.
func TestTypedErrors(t *testing.T) {
	b := shop(t)
	b.ActFunc = func(_ context.Context, path, action string) (*api.ActionResult, error) {
		if strings.HasSuffix(path, "/redis") {
			return nil, api.Errorf(api.CodeConflict, "redis is restarting")
		}
		return nil, fmt.Errorf("restart %s: %w", path, control.ErrAmbiguous)
	}
	c := serve(t, b)
	ctx := context.Background()
	for _, tc := range []struct {
		what string
		err  error
		want error
		msg  string
	}{
		{"get of nothing", get(c, "/apps/shop/components/nope.Nope"), api.ErrNotFound, "no resource at /apps/shop/components/nope.Nope"},
		{"a bad path", get(c, "/apps/shop/%zz"), api.ErrBadRequest, "invalid URL escape"},
		{"an action not accepted", act(c, "/apps/shop", "restart"), api.ErrBadRequest, `App /apps/shop does not accept action "restart" (it accepts: none)`},
		{"an unknown action", act(c, "/apps/shop/units/redis", "explode"), api.ErrBadRequest, "it accepts: stop, start, restart"},
		{"a conflict", act(c, "/apps/shop/units/redis", "restart"), api.ErrConflict, "redis is restarting"},
		{"a finer sentinel", act(c, "/apps/shop/components/cart.Cart", "restart"), api.ErrBadRequest, "restart /apps/shop/components/cart.Cart: ambiguous name"},
		{"a watch of nothing", watch(c, "/apps/bank"), api.ErrNotFound, "no resource at /apps/bank"},
	} {
		if !errors.Is(tc.err, tc.want) || !strings.Contains(fmt.Sprint(tc.err), tc.msg) {
			t.Errorf("%s: %v; want %v with %q", tc.what, tc.err, tc.want, tc.msg)
		}
		for _, other := range []error{api.ErrNotFound, api.ErrBadRequest, api.ErrConflict, api.ErrExpired, api.ErrUnavailable, api.ErrInternal} {
			if other != tc.want && errors.Is(tc.err, other) {
				t.Errorf("%s: %v matches %v too", tc.what, tc.err, other)
			}
		}
	}
	if _, err := c.Restart(ctx, "store.Store"); !errors.Is(err, control.ErrAmbiguous) || !strings.Contains(err.Error(), "names example.com/a/store.Store, example.com/b/store.Store: use the full name") {
		t.Errorf("restart store.Store: %v", err)
	}
	if _, err := c.Stop(ctx, "nope"); !errors.Is(err, api.ErrNotFound) || !strings.Contains(err.Error(), `no such component or unit: "nope"`) {
		t.Errorf("stop nope: %v", err)
	}
	// No supervisor: unavailable.
	dir, err := os.MkdirTemp("", "pc")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if _, err := control.Dial(dir).Get(ctx, "/"); !errors.Is(err, api.ErrUnavailable) || !strings.Contains(err.Error(), "cannot reach the supervisor") {
		t.Errorf("no supervisor: %v", err)
	}
}

func get(c *control.Client, path string) error {
	_, err := c.Get(context.Background(), path)
	return err
}

func act(c *control.Client, path, action string) error {
	_, err := c.Act(context.Background(), path, action)
	return err
}

func watch(c *control.Client, path string) error {
	w, err := c.Watch(context.Background(), path, control.WatchOptions{})
	if err == nil {
		w.Close()
	}
	return err
}

// Actions reach the backend by path; a name is resolved to its path
// first; the result's state is shown as the commands print it.
func TestActions(t *testing.T) {
	b := shop(t)
	c := serve(t, b)
	ctx := context.Background()
	if r, err := c.Act(ctx, "/apps/shop/components/cart.Cart/replicas/1", "restart"); err != nil || !r.Settled || r.State != api.Ready {
		t.Errorf("restart a replica: %+v, %v", r, err)
	}
	if r, err := c.Stop(ctx, "example.com/b/store.Store"); err != nil || r.State != control.Ready || r.Name != "example.com/b/store.Store" {
		t.Errorf("stop by full name: %+v, %v", r, err)
	}
	if _, err := c.Start(ctx, "redis"); err != nil {
		t.Errorf("start redis: %v", err)
	}
	if r, err := c.Restart(ctx, "cart.Cart/0"); err != nil || r.Name != "cart.Cart/0" {
		t.Errorf("restart cart.Cart/0: %+v, %v", r, err)
	}
	if _, err := c.Stop(ctx, "cart.Cart/0"); !errors.Is(err, api.ErrBadRequest) || !strings.Contains(err.Error(), "it accepts: restart") {
		t.Errorf("stop cart.Cart/0: %v", err)
	}
	if _, err := c.Restart(ctx, "cart.Cart/7"); !errors.Is(err, api.ErrNotFound) || !strings.Contains(err.Error(), "cart.Cart has no replica 7 (its replicas are 0 to") {
		t.Errorf("restart cart.Cart/7: %v", err)
	}
	want := "restart /apps/shop/components/cart.Cart/replicas/1,stop /apps/shop/components/example.com%2Fb%2Fstore.Store,start /apps/shop/units/redis,restart /apps/shop/components/cart.Cart/replicas/0"
	if got := strings.Join(b.Acted(), ","); got != want {
		t.Errorf("acted:\n%s\nwant\n%s", got, want)
	}
}

// The server stops waiting a little before the client's deadline, so the
// client gets an answer saying the action has not settled.
func TestActionWaitLimit(t *testing.T) {
	b := shop(t)
	b.ActFunc = func(ctx context.Context, path, action string) (*api.ActionResult, error) {
		<-ctx.Done()
		return &api.ActionResult{Path: path, Action: action, State: api.Starting, Message: "unit redis: still starting"}, nil
	}
	c := serve(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	t0 := time.Now()
	res, err := c.Start(ctx, "redis")
	if err != nil {
		t.Fatalf("start: %v (after %v)", err, time.Since(t0))
	}
	if res.Settled || res.State != control.Starting || res.Message != "unit redis: still starting" {
		t.Errorf("result: %+v", res)
	}
	if d := time.Since(t0); d > 2500*time.Millisecond {
		t.Errorf("answered after %v, want about 1s", d)
	}
}

// next returns the next event of w, failing the test after 5s.
func next(t *testing.T, w *control.Watch) api.Event {
	t.Helper()
	type result struct {
		ev  api.Event
		err error
	}
	ch := make(chan result, 1)
	go func() { ev, err := w.Next(); ch <- result{ev, err} }()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("next event: %v", r.err)
		}
		return r.ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
	}
	return api.Event{}
}

// describe says what an event is, briefly: "MODIFIED /apps/shop/units/redis".
func describe(ev api.Event) string {
	if ev.Resource == nil {
		return string(ev.Type)
	}
	return string(ev.Type) + " " + ev.Resource.Path
}

func TestWatch(t *testing.T) {
	b := shop(t)
	c := serve(t, b)
	ctx := context.Background()
	w, err := c.Watch(ctx, "/apps/shop/units", control.WatchOptions{Recursive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// What is there, then a bookmark of the current version.
	if ev := next(t, w); describe(ev) != "ADDED /apps/shop/units" {
		t.Errorf("first event: %s", describe(ev))
	}
	if ev := next(t, w); describe(ev) != "ADDED /apps/shop/units/redis" {
		t.Errorf("second event: %s", describe(ev))
	}
	bm := next(t, w)
	if bm.Type != api.Bookmark || bm.ResourceVersion == 0 {
		t.Fatalf("third event: %+v", bm)
	}
	// A change outside the watch, one that changes nothing, then changes
	// inside: only these are seen, in order, with growing versions.
	if err := b.Set(api.KindComponent, "/apps/shop/components/cart.Cart", api.ComponentStatus{State: api.Stopped}); err != nil {
		t.Fatal(err)
	}
	if err := b.Set(api.KindUnit, "/apps/shop/units/redis", api.UnitStatus{State: api.Starting}, api.ActionStop, api.ActionStart, api.ActionRestart); err != nil {
		t.Fatal(err)
	}
	if err := b.Set(api.KindUnit, "/apps/shop/units/redis", api.UnitStatus{State: api.Ready}, api.ActionStop); err != nil {
		t.Fatal(err)
	}
	ev := next(t, w)
	var us api.UnitStatus
	if describe(ev) != "MODIFIED /apps/shop/units/redis" || ev.Resource.DecodeStatus(&us) != nil || us.State != api.Ready || ev.ResourceVersion <= bm.ResourceVersion || ev.Resource.ResourceVersion != ev.ResourceVersion {
		t.Errorf("modified: %+v", ev)
	}
	// A deletion, then an addition, each synced (a get syncs): the
	// collection, made up for its only child, goes and comes with it,
	// children deleted before, and added after, their parents.
	b.Delete("/apps/shop/units/redis")
	if _, err := c.Get(ctx, "/"); err != nil {
		t.Fatal(err)
	}
	if err := b.Set(api.KindUnit, "/apps/shop/units/db", api.UnitStatus{State: api.Starting}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "/"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 4 {
		got = append(got, describe(next(t, w)))
	}
	want := "DELETED /apps/shop/units/redis,DELETED /apps/shop/units,ADDED /apps/shop/units,ADDED /apps/shop/units/db"
	if strings.Join(got, ",") != want {
		t.Errorf("events:\n%s\nwant\n%s", strings.Join(got, ","), want)
	}
}

// A watch resumed from a version gets exactly the events after it; one
// from a version the supervisor no longer remembers fails as expired.
func TestWatchResume(t *testing.T) {
	defer control.SetBounds(8, 1024)()
	b := shop(t)
	c := serve(t, b)
	ctx := context.Background()
	l, err := c.List(ctx, "/apps/shop/units", false)
	if err != nil {
		t.Fatal(err)
	}
	// Three changes, each seen by the server before the next (a get
	// syncs), so that none coalesces with another.
	for _, st := range []api.State{api.Ready, api.Degraded, api.Failed} {
		if err := b.Set(api.KindUnit, "/apps/shop/units/redis", api.UnitStatus{State: st}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(ctx, "/"); err != nil {
			t.Fatal(err)
		}
	}
	w, err := c.Watch(ctx, "/apps/shop/units", control.WatchOptions{ResourceVersion: l.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var states []api.State
	var versions []uint64
	for range 3 {
		ev := next(t, w)
		var us api.UnitStatus
		if describe(ev) != "MODIFIED /apps/shop/units/redis" || ev.Resource.DecodeStatus(&us) != nil {
			t.Fatalf("event %+v", ev)
		}
		states = append(states, us.State)
		versions = append(versions, ev.ResourceVersion)
	}
	if fmt.Sprint(states) != "[Ready Degraded Failed]" || !(l.ResourceVersion < versions[0] && versions[0] < versions[1] && versions[1] < versions[2]) {
		t.Errorf("states %v at %v after %d", states, versions, l.ResourceVersion)
	}
	// From the second: only the third.
	w2, err := c.Watch(ctx, "/apps/shop/units", control.WatchOptions{ResourceVersion: versions[1]})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	if ev := next(t, w2); ev.ResourceVersion != versions[2] {
		t.Errorf("resumed from %d: %+v", versions[1], ev)
	}
	if err := b.Set(api.KindUnit, "/apps/shop/units/redis", api.UnitStatus{State: api.Stopped}); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, w2); ev.ResourceVersion <= versions[2] {
		t.Errorf("then: %+v", ev)
	}
	// Past the history (8 events), the list's version has expired...
	for i := range 10 {
		if err := b.Set(api.KindUnit, "/apps/shop/units/redis", api.UnitStatus{State: api.Starting, Restarts: i}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(ctx, "/"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Watch(ctx, "/apps/shop/units", control.WatchOptions{ResourceVersion: l.ResourceVersion}); !errors.Is(err, api.ErrExpired) {
		t.Errorf("watch from an old version: %v", err)
	}
	// ...as has one from the future (another run).
	if _, err := c.Watch(ctx, "/apps/shop/units", control.WatchOptions{ResourceVersion: 1 << 62}); !errors.Is(err, api.ErrExpired) {
		t.Errorf("watch from a future version: %v", err)
	}
}

// A quiet watch gets bookmarks of the current version, which changes
// outside the watch move on: resuming from one is never expired by them.
func TestWatchBookmark(t *testing.T) {
	defer control.SetBookmarkInterval(50 * time.Millisecond)()
	defer control.SetBounds(4, 1024)()
	b := shop(t)
	c := serve(t, b)
	ctx := context.Background()
	l, err := c.List(ctx, "/apps/shop/units", false)
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.Watch(ctx, "/apps/shop/units", control.WatchOptions{ResourceVersion: l.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := range 10 { // outside the watch; more than the history
		if err := b.Set(api.KindReplica, "/apps/shop/components/cart.Cart/replicas/0", api.ReplicaStatus{Restarts: i}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(ctx, "/"); err != nil {
			t.Fatal(err)
		}
	}
	now, err := c.List(ctx, "/", false)
	if err != nil {
		t.Fatal(err)
	}
	var bm api.Event
	for bm.ResourceVersion < now.ResourceVersion {
		if bm = next(t, w); bm.Type != api.Bookmark {
			t.Fatalf("event %+v, want only bookmarks", bm)
		}
	}
	w2, err := c.Watch(ctx, "/apps/shop/units", control.WatchOptions{ResourceVersion: bm.ResourceVersion})
	if err != nil {
		t.Fatalf("resume from the bookmark: %v", err)
	}
	w2.Close()
}

// A watcher that falls further behind than its buffer is ended with an
// expired error, and the server goes on.
func TestWatchSlowWatcherDropped(t *testing.T) {
	defer control.SetBounds(8, 2)()
	b := shop(t)
	c := serve(t, b)
	ctx := context.Background()
	l, err := c.List(ctx, "/", true)
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.Watch(ctx, "/", control.WatchOptions{Recursive: true, ResourceVersion: l.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// Many changes in one sync: more than the watcher's buffer at once.
	for i := range 20 {
		if err := b.Set(api.KindReplica, fmt.Sprintf("/apps/shop/components/cart.Cart/replicas/%d", i), api.ReplicaStatus{Index: i}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Get(ctx, "/"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := w.Next()
		if err != nil {
			if !errors.Is(err, api.ErrExpired) || !strings.Contains(err.Error(), "fell behind") {
				t.Errorf("end of the watch: %v", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the watch was not dropped")
		}
	}
	if _, err := c.Get(ctx, "/apps/shop"); err != nil {
		t.Errorf("get after the drop: %v", err)
	}
}

func TestLogs(t *testing.T) {
	b := shop(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b.LogLines = []api.LogLine{{Time: t0, Source: "redis", Message: "up", Width: 5}, {Time: t0.Add(time.Second), Source: "cart.Cart/0", Message: "hi", Width: 11}}
	c := serve(t, b)
	var got []string
	err := c.Logs(context.Background(), "/apps/shop", control.LogQuery{}, func(l api.LogLine) error {
		got = append(got, fmt.Sprintf("%s %s|%s", l.Time.Format(time.TimeOnly), l.Source, l.Message))
		return nil
	})
	if err != nil || strings.Join(got, ",") != "00:00:00 redis|up,00:00:01 cart.Cart/0|hi" {
		t.Errorf("logs: %q, %v", got, err)
	}
	// Following: the stored lines, the mark, then until the context ends.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got = nil
	err = c.Logs(ctx, "/apps/shop/units/redis", control.LogQuery{Follow: true}, func(l api.LogLine) error {
		if l.CaughtUp {
			got = append(got, "caught up")
			cancel()
			return nil
		}
		got = append(got, l.Message)
		return nil
	})
	if err != nil || strings.Join(got, ",") != "up,hi,caught up" {
		t.Errorf("logs -f: %q, %v", got, err)
	}
	if err := c.Logs(context.Background(), "/apps/shop/units/nope", control.LogQuery{}, nil); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("logs of nothing: %v", err)
	}
}

// The ADDED events that begin a watch carry the version of that look:
// a watch resumed from any of them, after a disconnect midway, gets the
// later changes and nothing again.
func TestWatchResumeFromAdded(t *testing.T) {
	b := shop(t)
	c := serve(t, b)
	ctx := context.Background()
	w, err := c.Watch(ctx, "/", control.WatchOptions{Recursive: true})
	if err != nil {
		t.Fatal(err)
	}
	first := next(t, w) // "/", older than everything the shop added
	w.Close()
	if describe(first) != "ADDED /" {
		t.Fatalf("first event: %s", describe(first))
	}
	l, err := c.List(ctx, "/", false)
	if err != nil {
		t.Fatal(err)
	}
	if first.ResourceVersion != l.ResourceVersion || first.Resource.ResourceVersion > first.ResourceVersion {
		t.Errorf("first ADDED at %d (resource at %d); want the list's version %d", first.ResourceVersion, first.Resource.ResourceVersion, l.ResourceVersion)
	}
	if err := b.Set(api.KindUnit, "/apps/shop/units/redis", api.UnitStatus{State: api.Ready}); err != nil {
		t.Fatal(err)
	}
	w2, err := c.Watch(ctx, "/", control.WatchOptions{Recursive: true, ResourceVersion: first.ResourceVersion})
	if err != nil {
		t.Fatalf("resume from the first ADDED: %v", err)
	}
	defer w2.Close()
	if ev := next(t, w2); describe(ev) != "MODIFIED /apps/shop/units/redis" {
		t.Errorf("resumed from the first ADDED: %s; want only the later change", describe(ev))
	}
}

// A supervisor of an earlier release answers the /v2 routes with a
// plain-text 404: the client says so, as unavailable, so that callers
// fall back where they can.
func TestOlderSupervisor(t *testing.T) {
	dir, err := os.MkdirTemp("", "pc")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ln, err := net.Listen("unix", filepath.Join(dir, control.SocketName))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler()}
	go srv.Serve(ln)
	defer srv.Close()
	c := control.Dial(dir)
	defer c.Close()
	_, err = c.List(context.Background(), "/apps", false)
	if !errors.Is(err, api.ErrUnavailable) || !strings.Contains(err.Error(), "older control API: restart the app with this pilotage command") {
		t.Errorf("list of an older supervisor: %v", err)
	}
}

// A route the server does not know says both ways the command and the
// supervisor may differ.
func TestUnknownRoute(t *testing.T) {
	dir, err := os.MkdirTemp("", "pc")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	srv, err := control.Listen(dir, controltest.New(), control.Options{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", filepath.Join(dir, control.SocketName))
	}}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get("http://pilotage/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body api.ErrorBody
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusNotFound || body.Error == nil ||
		!strings.Contains(body.Error.Message, "speaks /v2, and the pilotage command is older or newer than it") {
		t.Errorf("unknown route: %d %+v %v", resp.StatusCode, body.Error, err)
	}
}
