package membackend_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/pilotage/pilotage/coord/internal/backend"
	"github.com/pilotage/pilotage/coord/internal/backendtest"
	"github.com/pilotage/pilotage/coord/internal/membackend"
)

func newBackend(t *testing.T) backend.Backend {
	b := membackend.New()
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return b
}

// next returns ch's next response; ok is false if ch was closed. It fails
// the test if nothing comes in time.
func next(t *testing.T, ch <-chan backend.WatchResponse) (resp backend.WatchResponse, ok bool) {
	t.Helper()
	select {
	case resp, ok = <-ch:
		return resp, ok
	case <-time.After(10 * time.Second):
		t.Fatal("no watch response in time")
		return resp, false
	}
}

func TestConformance(t *testing.T) {
	backendtest.Run(t, newBackend)
}

// A fresh store is at revision 1 and its first write gets 2, as etcd's.
func TestFreshRevision(t *testing.T) {
	b := newBackend(t)
	ctx := t.Context()
	if _, rev, err := b.Get(ctx, backend.Op{Key: "k"}); err != nil || rev != 1 {
		t.Fatalf("fresh store: revision %d, %v; want 1", rev, err)
	}
	res, err := b.Txn(ctx, backend.Txn{Then: []backend.Op{{Kind: backend.OpPut, Key: "k"}}})
	if err != nil || res.Revision != 2 {
		t.Fatalf("first write: revision %d, %v; want 2", res.Revision, err)
	}
}

// Past its history bound the store compacts by itself: a watch from a
// revision it dropped ends with ErrCompacted, one from the oldest kept
// revision replays.
func TestHistoryBound(t *testing.T) {
	const kept = 10
	b := membackend.NewWithHistory(kept, 1<<20)
	t.Cleanup(func() { b.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var last int64
	for i := range 3 * kept {
		res, err := b.Txn(ctx, backend.Txn{Then: []backend.Op{{Kind: backend.OpPut, Key: "k", Value: []byte(fmt.Sprint(i))}}})
		if err != nil {
			t.Fatal(err)
		}
		last = res.Revision
	}
	oldest := last - kept + 1
	resp, _ := next(t, b.Watch(ctx, "k", false, oldest-1))
	if !errors.Is(resp.Err, backend.ErrCompacted) {
		t.Fatalf("watch from %d: %+v, want ErrCompacted", oldest-1, resp)
	}
	var got []int64
	w := b.Watch(ctx, "k", false, oldest)
	for int64(len(got)) < kept {
		resp, ok := next(t, w)
		if !ok || resp.Err != nil {
			t.Fatalf("watch from %d ended after %d events: %v", oldest, len(got), resp.Err)
		}
		for _, e := range resp.Events {
			got = append(got, e.KV.ModRevision)
		}
	}
	if got[0] != oldest || got[len(got)-1] != last {
		t.Fatalf("replayed revisions %v, want %d..%d", got, oldest, last)
	}
}

// The history is also bounded by the size of its keys and values, but
// always keeps the latest revision, however large.
func TestHistoryByteBound(t *testing.T) {
	b := membackend.NewWithHistory(1000, 1000)
	t.Cleanup(func() { b.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	put := func(size int) int64 {
		res, err := b.Txn(ctx, backend.Txn{Then: []backend.Op{{Kind: backend.OpPut, Key: "k", Value: make([]byte, size)}}})
		if err != nil {
			t.Fatal(err)
		}
		return res.Revision
	}
	first := put(200)
	for range 9 {
		put(200)
	}
	resp, _ := next(t, b.Watch(ctx, "k", false, first))
	if !errors.Is(resp.Err, backend.ErrCompacted) {
		t.Fatalf("watch from %d after 2000 bytes of values: %+v, want ErrCompacted", first, resp)
	}
	big := put(5000)
	resp, _ = next(t, b.Watch(ctx, "k", false, big))
	if resp.Err != nil || len(resp.Events) != 1 || len(resp.Events[0].KV.Value) != 5000 {
		t.Fatalf("watch from the latest, oversized revision: err %v, %d events", resp.Err, len(resp.Events))
	}
	resp, _ = next(t, b.Watch(ctx, "k", false, big-1))
	if !errors.Is(resp.Err, backend.ErrCompacted) {
		t.Fatalf("watch from before the oversized revision: %+v, want ErrCompacted", resp)
	}
}

// A key watch replays past many revisions of other keys (more than one
// scan of the history) and misses nothing of its own.
func TestLongReplay(t *testing.T) {
	b := newBackend(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	put := func(key string) int64 {
		res, err := b.Txn(ctx, backend.Txn{Then: []backend.Op{{Kind: backend.OpPut, Key: key}}})
		if err != nil {
			t.Fatal(err)
		}
		return res.Revision
	}
	first := put("k")
	for range 10_000 {
		put("other")
	}
	last := put("k")
	w := b.Watch(ctx, "k", false, 1)
	var got []int64
	for len(got) < 2 {
		resp, ok := next(t, w)
		if !ok || resp.Err != nil {
			t.Fatalf("watch ended: %v", resp.Err)
		}
		for _, e := range resp.Events {
			got = append(got, e.KV.ModRevision)
		}
	}
	if len(got) != 2 || got[0] != first || got[1] != last {
		t.Fatalf("replayed %v, want [%d %d]", got, first, last)
	}
}

// A watcher that stops reading and falls behind the whole history is
// ended with ErrCompacted rather than holding writers or memory.
func TestSlowWatcherCompacted(t *testing.T) {
	const kept = 10
	b := membackend.NewWithHistory(kept, 1<<20)
	t.Cleanup(func() { b.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	w := b.Watch(ctx, "k", false, 0)
	put := func(i int) {
		if _, err := b.Txn(ctx, backend.Txn{Then: []backend.Op{{Kind: backend.OpPut, Key: "k", Value: []byte(fmt.Sprint(i))}}}); err != nil {
			t.Fatal(err)
		}
	}
	put(0)
	// The watcher has taken the first event and waits to send it; it
	// is then far behind.
	for i := 1; i <= 3*kept; i++ {
		put(i)
	}
	var events int
	for {
		resp, ok := next(t, w)
		if !ok {
			t.Fatal("channel closed without ErrCompacted")
		}
		if resp.Err != nil {
			if !errors.Is(resp.Err, backend.ErrCompacted) {
				t.Fatalf("watch ended with %v, want ErrCompacted", resp.Err)
			}
			break
		}
		events += len(resp.Events)
	}
	if events >= 3*kept+1 {
		t.Fatalf("got all %d events and then ErrCompacted", events)
	}
}

// Expiry needs no call on the store: the timer alone deletes the keys of
// leases that expire at different times, each at its own revision.
func TestExpiryTimer(t *testing.T) {
	b := newBackend(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	w := b.Watch(ctx, "", true, 0)
	ttls := []time.Duration{200 * time.Millisecond, 40 * time.Millisecond, 120 * time.Millisecond}
	for i, ttl := range ttls {
		id, err := b.Grant(ctx, ttl)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Txn(ctx, backend.Txn{Then: []backend.Op{{Kind: backend.OpPut, Key: fmt.Sprint(i), Lease: id}}}); err != nil {
			t.Fatal(err)
		}
	}
	var order []string
	var revs []int64
	for len(order) < 2*len(ttls) {
		resp, ok := next(t, w)
		if !ok || resp.Err != nil {
			t.Fatalf("watch ended: %v", resp.Err)
		}
		for _, e := range resp.Events {
			if e.Type == backend.EventDelete {
				revs = append(revs, e.KV.ModRevision)
			}
			order = append(order, e.KV.Key)
		}
	}
	if got := fmt.Sprint(order[3:], revs); got != "[1 2 0] [5 6 7]" {
		t.Fatalf("deletes %v at %v, want keys 1 2 0 at 5 6 7", order[3:], revs)
	}
}

// Every call from many goroutines at once, for the race detector; and no
// goroutine of the store is left after Close.
func TestConcurrentUseAndClose(t *testing.T) {
	before := runtime.NumGoroutine()
	b := membackend.New()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			key := fmt.Sprintf("c/%d", g)
			w := b.Watch(ctx, "c/", true, 1)
			for i := range 100 {
				id, err := b.Grant(ctx, time.Duration(1+i%5)*time.Millisecond)
				if err != nil {
					t.Error(err)
					return
				}
				_, err = b.Txn(ctx, backend.Txn{
					If:   []backend.Cmp{{Key: key, Field: backend.CreateRevision, Revision: 0}},
					Then: []backend.Op{{Kind: backend.OpPut, Key: key, Lease: id}},
					Else: []backend.Op{{Kind: backend.OpDelete, Key: "c/", Prefix: true}},
				})
				if err != nil && !errors.Is(err, backend.ErrLeaseNotFound) {
					t.Error(err)
				}
				b.KeepAliveOnce(ctx, id)
				if i%3 == 0 {
					b.Revoke(ctx, id)
				}
				b.Get(ctx, backend.Op{Key: "c/", Prefix: true, SortByCreate: true, Limit: 2})
				select {
				case <-w:
				default:
				}
			}
		})
	}
	// Watches left open, some unread, some with their ctx alive.
	for i := range 10 {
		b.Watch(ctx, "c/", true, int64(i))
	}
	wg.Wait()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	// Close waited for the store's goroutines; give the test's own and
	// the runtime's a moment to go.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines after close, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}
