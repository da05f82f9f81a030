package coord

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pilotage/pilotage/coord/internal/backend"
	"github.com/pilotage/pilotage/coord/internal/membackend"
)

// stalling is a backend whose renewals hang, as a paused process's or a
// partitioned one's would, while stalled is set.
type stalling struct {
	backend.Backend
	stalled atomic.Bool
}

func (b *stalling) KeepAliveOnce(ctx context.Context, id backend.LeaseID) (time.Duration, error) {
	if b.stalled.Load() {
		<-ctx.Done()
		return 0, ctx.Err()
	}
	return b.Backend.KeepAliveOnce(ctx, id)
}

func open(t *testing.T, b backend.Backend, ttl time.Duration) *Store {
	t.Helper()
	s, err := openStore(t.Context(), b, false, Options{Prefix: "/t/", TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestSessionDeadline: a holder whose renewals stop loses its lock, on its
// own clock, before the store's lease expires and another is granted it;
// its Store then goes on with a new session.
func TestSessionDeadline(t *testing.T) {
	mem := membackend.New()
	t.Cleanup(func() { mem.Close() })
	stalled := &stalling{Backend: mem}
	const ttl = 500 * time.Millisecond
	a, b := open(t, stalled, ttl), open(t, mem, ttl)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	la, err := a.Lock(ctx, "L")
	if err != nil {
		t.Fatal(err)
	}
	lostAt := make(chan time.Time, 1)
	context.AfterFunc(la.Context(), func() { lostAt <- time.Now() })
	stalled.stalled.Store(true)
	stalledAt := time.Now()
	lb, err := b.Lock(ctx, "L")
	if err != nil {
		t.Fatal(err)
	}
	grantedAt := time.Now()
	if la.Context().Err() == nil {
		t.Fatalf("b granted %v after the stall, a not told", grantedAt.Sub(stalledAt))
	}
	// a's loss revokes its lease at once, so b may be granted before the
	// AfterFunc above has run: it may report a time a little later.
	lost := <-lostAt
	if lost.Sub(stalledAt) > ttl {
		t.Fatalf("a lost at %v, b granted at %v after the stall (TTL %v)", lost.Sub(stalledAt), grantedAt.Sub(stalledAt), ttl)
	}
	if cause := context.Cause(la.Context()); !errors.Is(cause, ErrNotHeld) {
		t.Fatalf("cause %v", cause)
	}
	if _, err := la.Put(ctx, "k", nil); !errors.Is(err, ErrFenced) {
		t.Fatalf("put of the lost lock: %v, want ErrFenced", err)
	}
	if err := la.Unlock(ctx); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("unlock of the lost lock: %v, want ErrNotHeld", err)
	}
	stalled.stalled.Store(false)
	if err := lb.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	l, err := a.Lock(ctx, "L")
	if err != nil {
		t.Fatalf("lock on a new session: %v", err)
	}
	if l.Token() <= lb.Token() {
		t.Fatalf("token %d after %d", l.Token(), lb.Token())
	}
}

// outlived is a backend whose first lease ends before its session is
// registered, as when the process is paused between the two requests.
type outlived struct {
	backend.Backend
	failed atomic.Bool
}

func (b *outlived) Txn(ctx context.Context, t backend.Txn) (backend.TxnResult, error) {
	if !b.failed.Swap(true) {
		return backend.TxnResult{}, backend.ErrLeaseNotFound
	}
	return b.Backend.Txn(ctx, t)
}

// TestSessionOutlivedRetried: a session whose lease ended while it was
// being registered is started again on a fresh lease, not reported as an
// unreachable store.
func TestSessionOutlivedRetried(t *testing.T) {
	mem := membackend.New()
	t.Cleanup(func() { mem.Close() })
	s := open(t, &outlived{Backend: mem}, time.Second)
	l, err := s.Lock(t.Context(), "L")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Unlock(t.Context()); err != nil {
		t.Fatal(err)
	}
}
