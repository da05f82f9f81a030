package coordtest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pilotage/pilotage/coord"
)

// lockNow takes name on s within a few seconds, or fails the test.
func lockNow(t *testing.T, s *coord.Store, name string) *coord.Lock {
	t.Helper()
	l, err := s.Lock(ctxFor(t, 5*time.Second), name)
	if err != nil {
		t.Fatalf("lock %s: %v", name, err)
	}
	return l
}

type lockResult struct {
	l   *coord.Lock
	err error
	at  time.Time
}

// lockAsync starts taking name on s; the result comes on the channel.
func lockAsync(ctx context.Context, s *coord.Store, name string) <-chan lockResult {
	ch := make(chan lockResult, 1)
	go func() {
		l, err := s.Lock(ctx, name)
		ch <- lockResult{l, err, time.Now()}
	}()
	return ch
}

func TestLockBlocksUntilUnlock(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e env) {
		a, b := e.open(t, coord.Options{}), e.open(t, coord.Options{})
		ctx := ctxFor(t, 10*time.Second)
		la := lockNow(t, a, "L")
		got := lockAsync(ctx, b, "L")
		waitFor(t, 5*time.Second, "b waiting", func() bool { return waiters(t, a, "L") == 1 })
		select {
		case r := <-got:
			t.Fatalf("b got the lock held by a: %v", r.err)
		default:
		}
		if _, err := b.TryLock(ctx, "L"); !errors.Is(err, coord.ErrLocked) {
			t.Fatalf("TryLock of a held lock: %v, want ErrLocked", err)
		}
		unlocked := time.Now()
		if err := la.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
		if la.Context().Err() == nil || !errors.Is(context.Cause(la.Context()), coord.ErrNotHeld) {
			t.Fatalf("released lock's context: %v, cause %v", la.Context().Err(), context.Cause(la.Context()))
		}
		r := within(t, 5*time.Second, "b granted after the unlock", got)
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.at.Before(unlocked) || r.l.Token() <= la.Token() {
			t.Fatalf("b granted at %v (unlock at %v), token %d after %d", r.at, unlocked, r.l.Token(), la.Token())
		}
		if err := la.Unlock(ctx); !errors.Is(err, coord.ErrNotHeld) {
			t.Fatalf("second Unlock: %v, want ErrNotHeld", err)
		}
		if _, err := la.Put(ctx, "k", []byte("v")); !errors.Is(err, coord.ErrNotHeld) {
			t.Fatalf("Put with a released lock: %v, want ErrNotHeld", err)
		}
		if err := r.l.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
		// Free again: TryLock takes it at once.
		l, err := a.TryLock(ctx, "L")
		if err != nil {
			t.Fatalf("TryLock of a free lock: %v", err)
		}
		if l.Name() != "L" {
			t.Fatalf("Name = %q", l.Name())
		}
	})
}

// TestLockSameStore: goroutines of one Store exclude each other as
// those of two Stores do.
func TestLockSameStore(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e env) {
		s := e.open(t, coord.Options{})
		ctx := ctxFor(t, 10*time.Second)
		l1 := lockNow(t, s, "L")
		if _, err := s.TryLock(ctx, "L"); !errors.Is(err, coord.ErrLocked) {
			t.Fatalf("TryLock by the same Store: %v, want ErrLocked", err)
		}
		got := lockAsync(ctx, s, "L")
		if err := l1.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
		r := within(t, 5*time.Second, "second lock of the Store", got)
		if r.err != nil || r.l.Token() <= l1.Token() {
			t.Fatalf("second lock: %v, token %d after %d", r.err, r.l.Token(), l1.Token())
		}
	})
}

// TestTokensIncrease: every grant of a name sees a larger token, across
// Stores and across the loss of a session (revoked as a deployer does).
func TestTokensIncrease(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e env) {
		a := e.open(t, coord.Options{Replica: "tok/a"})
		b := e.open(t, coord.Options{Replica: "tok/b"})
		ctx := ctxFor(t, 10*time.Second)
		var last uint64
		for i := range 6 {
			s := []*coord.Store{a, b}[i%2]
			l := lockNow(t, s, "T")
			if l.Token() <= last {
				t.Fatalf("grant %d: token %d after %d", i, l.Token(), last)
			}
			last = l.Token()
			if i == 3 {
				// Session lost: the Store starts another for the next lock.
				if n, err := a.RevokeReplica(ctx, "tok/b", 0); err != nil || n != 1 {
					t.Fatalf("RevokeReplica: %d, %v", n, err)
				}
				within(t, 5*time.Second, "lock lost with its session", l.Context().Done())
				continue
			}
			if err := l.Unlock(ctx); err != nil {
				t.Fatal(err)
			}
		}
		l := lockNow(t, b, "T") // on a new session
		if l.Token() <= last {
			t.Fatalf("grant after the session's loss: token %d after %d", l.Token(), last)
		}
	})
}

// TestTokensAcrossRestart: tokens keep growing across a restart of the
// etcd server on the same data, for a Store that was connected across it
// and for a new one.
func TestTokensAcrossRestart(t *testing.T) {
	srv := startEtcd(t, t.TempDir())
	opts := coord.Options{Endpoints: []string{srv.endpoint()}, Prefix: "/restart/"}
	a := connect(t, opts)
	ctx := ctxFor(t, 20*time.Second)
	var last uint64
	for range 3 {
		l := lockNow(t, a, "R")
		last = l.Token()
		if err := l.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
	}
	srv.restart(t)
	b := connect(t, opts)
	for _, s := range []*coord.Store{a, b} {
		l := lockNow(t, s, "R")
		if l.Token() <= last {
			t.Fatalf("after a restart: token %d after %d", l.Token(), last)
		}
		last = l.Token()
		if err := l.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestForceUnlock: the holder's context is cancelled, its fenced write
// fails and changes nothing, and the waiter gets a larger token.
func TestForceUnlock(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e env) {
		a, b, op := e.open(t, coord.Options{}), e.open(t, coord.Options{}), e.open(t, coord.Options{})
		ctx := ctxFor(t, 10*time.Second)
		la := lockNow(t, a, "F")
		if _, err := la.Put(ctx, "fenced", []byte("by a")); err != nil {
			t.Fatalf("fenced put of the holder: %v", err)
		}
		got := lockAsync(ctx, b, "F")
		waitFor(t, 5*time.Second, "b waiting", func() bool { return waiters(t, op, "F") == 1 })

		held, err := op.ForceUnlock(ctx, "F")
		if err != nil || !held {
			t.Fatalf("ForceUnlock = %v, %v", held, err)
		}
		within(t, 5*time.Second, "holder's context cancelled", la.Context().Done())
		if cause := context.Cause(la.Context()); !errors.Is(cause, coord.ErrNotHeld) {
			t.Fatalf("cause %v, want ErrNotHeld", cause)
		}
		r := within(t, 5*time.Second, "waiter granted", got)
		if r.err != nil || r.l.Token() <= la.Token() {
			t.Fatalf("waiter: %v, token %d after %d", r.err, r.l.Token(), la.Token())
		}
		for _, write := range []func() (int64, error){
			func() (int64, error) { return la.Put(ctx, "fenced", []byte("stale a")) },
			func() (int64, error) { return la.Delete(ctx, "fenced") },
			func() (int64, error) { return a.Put(ctx, "fenced", []byte("stale a"), coord.FencedBy(la)) },
		} {
			if _, err := write(); !errors.Is(err, coord.ErrFenced) {
				t.Fatalf("write of the old holder: %v, want ErrFenced", err)
			}
		}
		if got, err := op.Get(ctx, "fenced"); err != nil || string(got.Value) != "by a" {
			t.Fatalf("fenced = %q, %v; want the holder's write only", got.Value, err)
		}
		if err := la.Unlock(ctx); !errors.Is(err, coord.ErrNotHeld) {
			t.Fatalf("Unlock of a lock taken by force: %v, want ErrNotHeld", err)
		}
		if held, err := op.ForceUnlock(ctx, "nobody"); err != nil || held {
			t.Fatalf("ForceUnlock of a free lock = %v, %v", held, err)
		}
	})
}

// TestFencedWriteRace: the fence is checked by the store, not only by the
// holder: a write sent while the holder still believes it holds, after
// the store gave the lock to another, changes nothing.
func TestFencedWriteRace(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e env) {
		a, op := e.open(t, coord.Options{}), e.open(t, coord.Options{})
		ctx := ctxFor(t, 10*time.Second)
		la := lockNow(t, a, "F")
		lb := lockAsync(ctx, op, "F")
		if _, err := op.ForceUnlock(ctx, "F"); err != nil {
			t.Fatal(err)
		}
		r := within(t, 5*time.Second, "waiter granted", lb)
		if r.err != nil {
			t.Fatal(r.err)
		}
		// Whether or not a has seen its loss yet, its write is refused.
		if _, err := la.Put(ctx, "k", []byte("stale")); !errors.Is(err, coord.ErrFenced) {
			t.Fatalf("stale fenced write: %v, want ErrFenced", err)
		}
		if _, err := op.Get(ctx, "k"); !errors.Is(err, coord.ErrNotFound) {
			t.Fatalf("k after a refused write: %v, want ErrNotFound", err)
		}
	})
}

// TestPausedHolderLosesFirst partitions a holder from etcd: its renewals
// stop reaching the store. Its lock's context is cancelled, on its own
// clock, before another Store is granted the lock.
func TestPausedHolderLosesFirst(t *testing.T) {
	p := startProxy(t, sharedEtcd.sock)
	ttl := time.Second
	a := connect(t, coord.Options{Endpoints: []string{p.endpoint()}, TTL: ttl})
	b := connect(t, coord.Options{Endpoints: []string{sharedEtcd.endpoint()}, Prefix: testPrefix(t)})
	ctx := ctxFor(t, 10*time.Second)
	la := lockNow(t, a, "P")
	lost := make(chan time.Time, 1)
	context.AfterFunc(la.Context(), func() { lost <- time.Now() })
	got := lockAsync(ctx, b, "P")
	waitFor(t, 5*time.Second, "b waiting", func() bool { return waiters(t, b, "P") == 1 })

	paused := time.Now()
	p.pause()
	r := within(t, 5*time.Second, "b granted once a's lease expired", got)
	if r.err != nil {
		t.Fatal(r.err)
	}
	lostAt := within(t, time.Second, "a's loss", lost)
	if !lostAt.Before(r.at) {
		t.Fatalf("a lost the lock at %v, after b was granted it at %v", lostAt.Sub(paused), r.at.Sub(paused))
	}
	if d := lostAt.Sub(paused); d > ttl {
		t.Fatalf("a lost the lock %v after its pause, more than the TTL %v", d, ttl)
	}
	t.Logf("paused at 0: a lost the lock at %v, b granted at %v", lostAt.Sub(paused), r.at.Sub(paused))
	p.resume()
	if _, err := la.Put(ctx, "k", []byte("stale")); !errors.Is(err, coord.ErrFenced) {
		t.Fatalf("write of the paused holder: %v, want ErrFenced", err)
	}
	// a goes on with a new session.
	if _, err := a.TryLock(ctx, "P"); !errors.Is(err, coord.ErrLocked) {
		t.Fatalf("a's TryLock after its loss: %v, want ErrLocked", err)
	}
}

// TestRevokeReplica frees the locks and leaderships of a replica's
// process at once.
func TestRevokeReplica(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e env) {
		dead := e.open(t, coord.Options{Replica: "worker/1", TTL: 10 * time.Second})
		other := e.open(t, coord.Options{Replica: "worker/10"})
		deployer := e.open(t, coord.Options{Replica: "deployer"})
		ctx := ctxFor(t, 10*time.Second)
		l := lockNow(t, dead, "V")
		lead, err := dead.Election("E").Campaign(ctx, "dead")
		if err != nil {
			t.Fatal(err)
		}
		gotLock := lockAsync(ctx, other, "V")
		gotLead := make(chan error, 1)
		go func() { _, err := other.Election("E").Campaign(ctx, "other"); gotLead <- err }()
		waitFor(t, 5*time.Second, "waiting", func() bool { return waiters(t, deployer, "V") == 1 })

		revoked := time.Now()
		n, err := deployer.RevokeReplica(ctx, "worker/1", 0)
		if err != nil || n != 1 {
			t.Fatalf("RevokeReplica = %d, %v; want its one session", n, err)
		}
		r := within(t, 2*time.Second, "lock of the revoked replica granted", gotLock)
		if r.err != nil {
			t.Fatal(r.err)
		}
		if err := within(t, 2*time.Second, "leadership of the revoked replica won", gotLead); err != nil {
			t.Fatal(err)
		}
		t.Logf("granted %v after the revocation", r.at.Sub(revoked))
		within(t, 2*time.Second, "revoked lock's context", l.Context().Done())
		within(t, 2*time.Second, "revoked leadership's context", lead.Context().Done())
		// worker/10 is not worker/1: its session stays.
		if n, err := deployer.RevokeReplica(ctx, "worker/1", 0); err != nil || n != 0 {
			t.Fatalf("RevokeReplica again = %d, %v", n, err)
		}
		if r.l.Context().Err() != nil {
			t.Fatal("revoking worker/1 ended worker/10's lock")
		}
	})
}

// TestDo: fn runs under the lock; a lock lost while fn runs cancels fn's
// context and makes Do fail with ErrNotHeld.
func TestDo(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e env) {
		s, op := e.open(t, coord.Options{}), e.open(t, coord.Options{})
		ctx := ctxFor(t, 10*time.Second)
		err := s.Do(ctx, "D", func(ctx context.Context, l *coord.Lock) error {
			_, err := l.Put(ctx, "d", []byte("done"))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := op.TryLock(ctx, "D"); err != nil {
			t.Fatalf("Do did not release the lock: %v", err)
		}
		if _, err := op.ForceUnlock(ctx, "D"); err != nil {
			t.Fatal(err)
		}
		fnErr := errors.New("fn saw its context end")
		err = s.Do(ctx, "D", func(fctx context.Context, l *coord.Lock) error {
			if _, err := op.ForceUnlock(ctx, "D"); err != nil {
				return err
			}
			<-fctx.Done()
			if _, err := l.Put(ctx, "d", []byte("late")); !errors.Is(err, coord.ErrFenced) {
				return err
			}
			return fnErr
		})
		if !errors.Is(err, coord.ErrNotHeld) || !errors.Is(err, fnErr) {
			t.Fatalf("Do of a lost lock: %v, want ErrNotHeld and fn's error", err)
		}
		if got, _ := op.Get(ctx, "d"); string(got.Value) != "done" {
			t.Fatalf("d = %q", got.Value)
		}
	})
}

// TestCloseReleases: Close gives up every lock and leadership at once.
func TestCloseReleases(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e env) {
		a, b := e.open(t, coord.Options{TTL: 10 * time.Second}), e.open(t, coord.Options{})
		ctx := ctxFor(t, 10*time.Second)
		l := lockNow(t, a, "C")
		if _, err := a.Election("C").Campaign(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		got := lockAsync(ctx, b, "C")
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		if l.Context().Err() == nil {
			t.Fatal("lock's context alive after Close")
		}
		if r := within(t, 2*time.Second, "lock of a closed Store", got); r.err != nil {
			t.Fatal(r.err)
		}
		// Calls in progress on a Store being closed fail with ErrClosed.
		c := e.open(t, coord.Options{})
		waiting := lockAsync(ctx, c, "C")
		watchErr := make(chan error, 1)
		go func() {
			for _, err := range c.Watch(ctx, "", 0) {
				watchErr <- err
				return
			}
		}()
		waitFor(t, 5*time.Second, "c waiting", func() bool { return waiters(t, b, "C") == 1 })
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if r := within(t, 2*time.Second, "waiting lock of a closed Store", waiting); !errors.Is(r.err, coord.ErrClosed) {
			t.Fatalf("Lock waiting as its Store closed: %v, want ErrClosed", r.err)
		}
		if err := within(t, 2*time.Second, "watch of a closed Store", watchErr); !errors.Is(err, coord.ErrClosed) {
			t.Fatalf("Watch as its Store closed: %v, want ErrClosed", err)
		}
		waitFor(t, 5*time.Second, "c's waiter key gone", func() bool { return waiters(t, b, "C") == 0 })
		if _, err := b.Election("C").Leader(ctx); !errors.Is(err, coord.ErrNoLeader) {
			t.Fatalf("leader after Close: %v, want ErrNoLeader", err)
		}
		if _, err := a.Get(ctx, "k"); !errors.Is(err, coord.ErrClosed) {
			t.Fatalf("Get on a closed Store: %v, want ErrClosed", err)
		}
		if _, err := a.Lock(ctx, "C2"); !errors.Is(err, coord.ErrClosed) {
			t.Fatalf("Lock on a closed Store: %v, want ErrClosed", err)
		}
	})
}

// TestLockMutualExclusion: goroutines of several Stores take turns; no
// two hold at once, and each grant's token is larger than the last.
func TestLockMutualExclusion(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e env) {
		stores := []*coord.Store{e.open(t, coord.Options{}), e.open(t, coord.Options{}), e.open(t, coord.Options{})}
		ctx := ctxFor(t, 20*time.Second)
		const perWorker = 5
		var (
			inside atomic.Int32
			mu     sync.Mutex
			tokens []uint64
			wg     sync.WaitGroup
		)
		for i := range 2 * len(stores) {
			s := stores[i%len(stores)]
			wg.Go(func() {
				for range perWorker {
					l, err := s.Lock(ctx, "M")
					if err != nil {
						t.Error(err)
						return
					}
					if n := inside.Add(1); n != 1 {
						t.Errorf("%d holders at once", n)
					}
					mu.Lock()
					tokens = append(tokens, l.Token())
					mu.Unlock()
					inside.Add(-1)
					if err := l.Unlock(ctx); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		if len(tokens) != 2*len(stores)*perWorker {
			t.Fatalf("%d grants, want %d", len(tokens), 2*len(stores)*perWorker)
		}
		for i := 1; i < len(tokens); i++ {
			if tokens[i] <= tokens[i-1] {
				t.Fatalf("grant %d: token %d after %d", i, tokens[i], tokens[i-1])
			}
		}
	})
}
