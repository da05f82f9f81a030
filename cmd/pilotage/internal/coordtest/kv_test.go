package coordtest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/pilotage/pilotage/coord"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestKV(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e env) {
		s := e.open(t, coord.Options{})
		ctx := ctxFor(t, 10*time.Second)
		if _, err := s.Get(ctx, "a"); !errors.Is(err, coord.ErrNotFound) {
			t.Fatalf("Get of an absent key: %v, want ErrNotFound", err)
		}
		rev1, err := s.Put(ctx, "a", []byte("1"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "a")
		if err != nil || string(got.Value) != "1" || got.Revision != rev1 || got.CreateRevision != rev1 {
			t.Fatalf("Get = %+v, %v; want value 1 at revision %d", got, err, rev1)
		}

		// CompareAndSwap: at the current revision it writes; at another
		// it fails with the current one.
		rev2, err := s.CompareAndSwap(ctx, "a", []byte("2"), rev1)
		if err != nil || rev2 <= rev1 {
			t.Fatalf("CompareAndSwap at the current revision: %d, %v", rev2, err)
		}
		_, err = s.CompareAndSwap(ctx, "a", []byte("3"), rev1)
		var conflict *coord.ConflictError
		if !errors.As(err, &conflict) || !errors.Is(err, coord.ErrConflict) || conflict.Current != rev2 || conflict.Expected != rev1 {
			t.Fatalf("CompareAndSwap at a stale revision: %v, want a conflict at %d", err, rev2)
		}
		if _, err := s.CompareAndSwap(ctx, "b", []byte("new"), 0); err != nil {
			t.Fatalf("CompareAndSwap creating b: %v", err)
		}
		if _, err := s.CompareAndSwap(ctx, "b", []byte("again"), 0); !errors.As(err, &conflict) || conflict.Current == 0 {
			t.Fatalf("CompareAndSwap creating an existing key: %v", err)
		}
		if got, _ := s.Get(ctx, "a"); string(got.Value) != "2" {
			t.Fatalf("a = %q after a failed swap, want 2", got.Value)
		}

		// List by prefix, sorted by key, at a revision to watch from.
		for _, k := range []string{"dir/c", "dir/a", "dir/b", "dirt"} {
			if _, err := s.Put(ctx, k, []byte(k)); err != nil {
				t.Fatal(err)
			}
		}
		entries, rev, err := s.List(ctx, "dir/")
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, en := range entries {
			keys = append(keys, en.Key)
		}
		if !slices.Equal(keys, []string{"dir/a", "dir/b", "dir/c"}) {
			t.Fatalf("List(dir/) = %v", keys)
		}
		if now, err := s.Revision(ctx); err != nil || now != rev {
			t.Fatalf("Revision = %d, %v; List read at %d", now, err, rev)
		}

		// Delete: absent afterwards; deleting an absent key is no error.
		drev, err := s.Delete(ctx, "a")
		if err != nil || drev <= rev {
			t.Fatalf("Delete: %d, %v", drev, err)
		}
		if _, err := s.Get(ctx, "a"); !errors.Is(err, coord.ErrNotFound) {
			t.Fatalf("Get after Delete: %v", err)
		}
		if _, err := s.Delete(ctx, "a"); err != nil {
			t.Fatalf("Delete of an absent key: %v", err)
		}
	})
}

func TestWatchFromRevision(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e env) {
		s := e.open(t, coord.Options{})
		ctx := ctxFor(t, 10*time.Second)
		var revs []int64
		for _, k := range []string{"w/1", "w/2", "other", "w/3"} {
			rev, err := s.Put(ctx, k, []byte(k))
			if err != nil {
				t.Fatal(err)
			}
			revs = append(revs, rev)
		}
		drev, err := s.Delete(ctx, "w/1")
		if err != nil {
			t.Fatal(err)
		}
		// From the second write on: w/2, w/3 and the delete of w/1, in
		// order, and nothing of "other".
		want := []coord.Event{
			{Type: coord.Put, Entry: coord.Entry{Key: "w/2", Value: []byte("w/2"), Revision: revs[1]}},
			{Type: coord.Put, Entry: coord.Entry{Key: "w/3", Value: []byte("w/3"), Revision: revs[3]}},
			{Type: coord.Deleted, Entry: coord.Entry{Key: "w/1", Revision: drev}},
		}
		var got []coord.Event
		for ev, err := range s.Watch(ctx, "w/", revs[1]) {
			if err != nil {
				t.Fatalf("watch: %v", err)
			}
			got = append(got, ev)
			if len(got) == len(want) {
				break
			}
		}
		for i := range want {
			g, w := got[i], want[i]
			if g.Type != w.Type || g.Key != w.Key || string(g.Value) != string(w.Value) || g.Revision != w.Revision {
				t.Errorf("event %d = %v %s %q @%d, want %v %s %q @%d", i, g.Type, g.Key, g.Value, g.Revision, w.Type, w.Key, w.Value, w.Revision)
			}
		}
	})
}

// TestWatchResumes cuts the connection of a watching client, then
// restarts the etcd server on the same data: the watch goes on from where
// it was, no event lost or repeated.
func TestWatchResumes(t *testing.T) {
	srv := startEtcd(t, t.TempDir())
	watcher := connect(t, coord.Options{Endpoints: []string{srv.endpoint()}})
	writer := connect(t, coord.Options{Endpoints: []string{srv.endpoint()}})
	ctx := ctxFor(t, 20*time.Second)

	const n = 30
	type seen struct {
		key string
		rev int64
	}
	events := make(chan seen, n)
	errs := make(chan error, 1)
	start, err := writer.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for ev, err := range watcher.Watch(ctx, "r/", start+1) {
			if err != nil {
				errs <- err
				return
			}
			events <- seen{ev.Key, ev.Revision}
		}
	}()
	var wrote []seen
	put := func(i int) {
		key := "r/" + string(rune('a'+i%26)) + time.Now().Format(".150405.000000")
		for {
			rev, err := writer.Put(ctx, key, []byte("v"))
			if err == nil {
				wrote = append(wrote, seen{key, rev})
				return
			}
			if ctx.Err() != nil {
				t.Fatalf("put: %v", err)
			}
			time.Sleep(10 * time.Millisecond) // the server restarts
		}
	}
	put(0)
	first := within(t, 5*time.Second, "first event", events)
	got := []seen{first}
	for i := 1; i < n; i++ {
		switch i {
		case 10:
			srv.front.cut()
		case 20:
			srv.restart(t)
		}
		put(i)
	}
	for len(got) < n {
		select {
		case ev := <-events:
			got = append(got, ev)
		case err := <-errs:
			t.Fatalf("watch ended: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatalf("got %d of %d events: %v", len(got), n, got)
		}
	}
	if !slices.Equal(got, wrote) {
		t.Fatalf("events %v, want the writes %v", got, wrote)
	}
	select {
	case ev := <-events:
		t.Fatalf("an event more than written: %v", ev)
	default:
	}
}

// TestWatchCompacted: a watch from a revision the store compacted away
// ends with ErrCompacted.
func TestWatchCompacted(t *testing.T) {
	srv := startEtcd(t, t.TempDir())
	s := connect(t, coord.Options{Endpoints: []string{srv.endpoint()}})
	ctx := ctxFor(t, 10*time.Second)
	first, err := s.Put(ctx, "c", []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	last, err := s.Put(ctx, "c", []byte("2"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{srv.endpoint()}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Compact(ctx, last); err != nil {
		t.Fatal(err)
	}
	for _, err := range s.Watch(ctx, "c", first) {
		if !errors.Is(err, coord.ErrCompacted) {
			t.Fatalf("watch from a compacted revision: %v, want ErrCompacted", err)
		}
		return
	}
	t.Fatal("watch from a compacted revision ended without an error")
}
