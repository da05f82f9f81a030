package backendtest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pilotage/pilotage/coord/internal/backend"
)

// A watch from a past revision replays the history from it, then follows
// live writes, with full KeyValues for puts.
func testWatchReplayThenLive(t *testing.T, b backend.Backend) {
	ctx := testCtx(t)
	var revs []int64
	for i := range 5 {
		revs = append(revs, mustPut(t, b, "w/a", fmt.Sprint(i)))
	}
	mustPut(t, b, "other", "x")
	delRev := mustTxn(t, b, del("w/a", false)).Revision
	w := b.Watch(ctx, "w/", true, revs[2])
	evs := recvEvents(t, w, 4)
	for i, rev := range revs[2:] {
		checkEvent(t, evs[i], backend.EventPut, backend.KeyValue{
			Key: "w/a", Value: []byte(fmt.Sprint(i + 2)), CreateRevision: revs[0], ModRevision: rev, Version: int64(i + 3),
		})
	}
	checkEvent(t, evs[3], backend.EventDelete, backend.KeyValue{Key: "w/a", ModRevision: delRev})

	live := mustPut(t, b, "w/b", "live")
	evs = recvEvents(t, w, 1)
	checkEvent(t, evs[0], backend.EventPut, backend.KeyValue{Key: "w/b", Value: []byte("live"), CreateRevision: live, ModRevision: live, Version: 1})
}

// A watch from 0 starts with the first write after Watch returns.
func testWatchFromNext(t *testing.T, b backend.Backend) {
	mustPut(t, b, "n", "before")
	w := b.Watch(testCtx(t), "n", false, 0)
	rev := mustPut(t, b, "n", "after")
	evs := recvEvents(t, w, 1)
	if evs[0].KV.ModRevision != rev || string(evs[0].KV.Value) != "after" {
		t.Fatalf("first event %s, want the put at %d", fmtEvent(evs[0]), rev)
	}
}

// A watch from a revision not reached yet waits for it.
func testWatchFutureRevision(t *testing.T, b backend.Backend) {
	base := mustRev(t, b)
	w := b.Watch(testCtx(t), "f", false, base+2)
	mustPut(t, b, "f", "1")
	rev := mustPut(t, b, "f", "2")
	evs := recvEvents(t, w, 1)
	if evs[0].KV.ModRevision != rev {
		t.Fatalf("first event %s, want the put at %d", fmtEvent(evs[0]), rev)
	}
}

// A key watch sees that key only.
func testWatchKeyNotPrefix(t *testing.T, b backend.Backend) {
	w := b.Watch(testCtx(t), "k", false, 0)
	mustPut(t, b, "k/child", "x")
	mustPut(t, b, "kk", "x")
	rev := mustPut(t, b, "k", "x")
	evs := recvEvents(t, w, 1)
	if evs[0].KV.Key != "k" || evs[0].KV.ModRevision != rev {
		t.Fatalf("first event %s, want k at %d", fmtEvent(evs[0]), rev)
	}
}

// The events of one txn come in one response, in the txn's order.
func testWatchTxnInOneResponse(t *testing.T, b backend.Backend) {
	mustPut(t, b, "t/z", "old")
	w := b.Watch(testCtx(t), "t/", true, 0)
	res := mustTxn(t, b, put("t/b", "1"), put("t/a", "2"), del("t/z", false))
	resp := recv(t, w)
	if resp.Err != nil || len(resp.Events) != 3 {
		t.Fatalf("response %+v, want the txn's three events", resp)
	}
	for i, key := range []string{"t/b", "t/a", "t/z"} {
		if e := resp.Events[i]; e.KV.Key != key || e.KV.ModRevision != res.Revision {
			t.Fatalf("event %d: %s, want %s at %d", i, fmtEvent(e), key, res.Revision)
		}
	}
}

// A watch started from a past revision while writers run sees every
// revision from it exactly once, in order, through the switch from
// history to live events.
func testWatchNoGapConcurrentWriters(t *testing.T, b backend.Backend) {
	const writers, each = 4, 100
	ctx := testCtx(t)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	started := make(chan struct{})
	var once sync.Once
	for i := range writers {
		wg.Go(func() {
			for j := range each {
				if _, err := b.Txn(ctx, backend.Txn{Then: []backend.Op{put(fmt.Sprintf("g/%d", i), fmt.Sprint(j))}}); err != nil {
					errs <- err
					return
				}
				if j == each/4 {
					once.Do(func() { close(started) })
				}
			}
		})
	}
	<-started
	from := mustRev(t, b) - 10
	w := b.Watch(ctx, "g/", true, from)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	last := mustRev(t, b)
	evs := recvEvents(t, w, int(last-from+1))
	for i, e := range evs {
		if want := from + int64(i); e.KV.ModRevision != want || e.Type != backend.EventPut {
			t.Fatalf("event %d: %s, want a put at %d", i, fmtEvent(e), want)
		}
	}
}

// A watcher that does not read does not slow writers down, and still gets
// every event once it reads.
func testWatchSlowReader(t *testing.T, b backend.Backend) {
	const writes = 1000
	ctx := testCtx(t)
	from := mustRev(t, b) + 1
	w := b.Watch(ctx, "s", false, 0)
	start := time.Now()
	for i := range writes {
		mustPut(t, b, "s", fmt.Sprint(i))
	}
	t.Logf("%d writes with an unread watch: %v", writes, time.Since(start))
	evs := recvEvents(t, w, writes)
	for i, e := range evs {
		if e.KV.ModRevision != from+int64(i) {
			t.Fatalf("event %d: %s, want revision %d", i, fmtEvent(e), from+int64(i))
		}
	}
}

// Ending the context closes the channel, from history or live.
func testWatchContextEnds(t *testing.T, b backend.Backend) {
	mustPut(t, b, "c", "1")
	ctx, cancel := context.WithCancel(testCtx(t))
	live := b.Watch(ctx, "c", false, 0)
	replay := b.Watch(ctx, "c", false, 1) // never read: blocked on sending
	cancel()
	if err := waitClosed(t, live); err != nil {
		t.Logf("live watch ended with %v", err)
	}
	if err := waitClosed(t, replay); err != nil {
		t.Logf("replaying watch ended with %v", err)
	}
	done, stop := context.WithCancel(testCtx(t))
	stop()
	waitClosed(t, b.Watch(done, "c", false, 0))
}

// A watch from a compacted revision ends with ErrCompacted; one from the
// compaction revision on still replays.
func testWatchCompacted(t *testing.T, b backend.Backend) {
	c, ok := b.(Compacter)
	if !ok {
		t.Skip("backend does not implement Compacter")
	}
	ctx := testCtx(t)
	r1 := mustPut(t, b, "x", "1")
	mustPut(t, b, "x", "2")
	r3 := mustPut(t, b, "x", "3")
	if err := c.Compact(ctx, r3); err != nil {
		t.Fatalf("compact at %d: %v", r3, err)
	}
	w := b.Watch(ctx, "x", false, r1)
	resp := recv(t, w)
	wantErrIs(t, "watch from a compacted revision", resp.Err, backend.ErrCompacted)
	waitClosed(t, w)

	r4 := mustPut(t, b, "x", "4")
	w = b.Watch(ctx, "x", false, r3+1)
	if evs := recvEvents(t, w, 1); evs[0].KV.ModRevision != r4 {
		t.Fatalf("watch from after the compaction: %s, want the put at %d", fmtEvent(evs[0]), r4)
	}
}

// Close ends every watch and fails later calls.
func testCloseEndsWatches(t *testing.T, b backend.Backend) {
	ctx := testCtx(t)
	mustPut(t, b, "z", "1")
	live := b.Watch(ctx, "z", false, 0)
	replay := b.Watch(ctx, "z", false, 1)
	if err := b.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	waitClosed(t, live)
	waitClosed(t, replay)
	if _, err := b.Txn(ctx, backend.Txn{Then: []backend.Op{put("z", "2")}}); err == nil {
		t.Fatal("txn after close: no error")
	}
	if _, err := b.Grant(ctx, timeout); err == nil {
		t.Fatal("grant after close: no error")
	}
}
