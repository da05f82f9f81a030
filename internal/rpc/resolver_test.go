package rpc

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pilotage/pilotage/codegen"
)

// A manualResolver resolves to what the test last set.
type manualResolver struct {
	mu      sync.Mutex
	eps     Endpoints
	err     error // returned instead while set
	changed chan struct{}
}

func newManualResolver(addrs ...string) *manualResolver {
	return &manualResolver{eps: Endpoints{Addrs: addrs, Version: 1}, changed: make(chan struct{})}
}

func (r *manualResolver) Resolve(ctx context.Context, version uint64) (Endpoints, error) {
	for {
		r.mu.Lock()
		eps, err, changed := r.eps, r.err, r.changed
		r.mu.Unlock()
		if err != nil {
			return Endpoints{}, err
		}
		if eps.Version != version {
			return eps, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return Endpoints{}, ctx.Err()
		}
	}
}

// set publishes new endpoints; the Pool applies them soon after.
func (r *manualResolver) set(addrs []string, o Outage) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.eps = Endpoints{Addrs: addrs, Outage: o, Version: r.eps.Version + 1}
	r.err = nil
	close(r.changed)
	r.changed = make(chan struct{})
	return r.eps.Version
}

func (r *manualResolver) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err
	close(r.changed)
	r.changed = make(chan struct{})
}

// update sets the endpoints and waits until p has applied them, so that
// the next call sees them.
func (r *manualResolver) update(t *testing.T, p *Pool, addrs []string, o Outage) {
	t.Helper()
	v := r.set(addrs, o)
	waitFor(t, 5*time.Second, "the pool to apply the new endpoints", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.version == v
	})
}

func TestStaticResolver(t *testing.T) {
	r := StaticResolver{Addrs: []string{"unix:/a"}}
	eps, err := r.Resolve(context.Background(), 0)
	if err != nil || eps.Version != 1 || len(eps.Addrs) != 1 || eps.Addrs[0] != "unix:/a" {
		t.Fatalf("Resolve(0) = %+v, %v", eps, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := r.Resolve(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Resolve(1) = %v, want it to wait for ctx: the endpoints never change", err)
	}
}

// A Pool follows its Resolver: calls go where the last endpoints say.
func TestPoolFollowsResolver(t *testing.T) {
	a := startServer(t, "unix", ServerOptions{})
	b := startServer(t, "unix", ServerOptions{})
	r := newManualResolver(a.poolAddr())
	pool := NewPool(PoolOptions{}, r)
	defer pool.Close()
	ctx := context.Background()
	if _, err := pool.Call(ctx, testComponent, mEcho, encodeBytes(nil), true); err != nil {
		t.Fatal(err)
	}
	r.update(t, pool, []string{b.poolAddr()}, Outage{})
	if _, err := pool.Call(ctx, testComponent, mEcho, encodeBytes(nil), true); err != nil {
		t.Fatal(err)
	}
	if a.calls.Load() != 1 || b.calls.Load() != 1 {
		t.Errorf("a served %d calls, b %d; want 1 each", a.calls.Load(), b.calls.Load())
	}
	r.update(t, pool, nil, Outage{Reason: "stopped"})
	if _, err := pool.Call(ctx, testComponent, mEcho, nil, true); err == nil || err.Error() != "component rpc.Test is unavailable: stopped" {
		t.Errorf("after the outage: %v", err)
	}
}

// A Resolver that fails is retried; a call waits for it as for a
// transient outage, and names the failure if it lasts.
func TestPoolResolverFailure(t *testing.T) {
	ts := startServer(t, "unix", ServerOptions{})
	r := newManualResolver()
	r.fail(errors.New("registry down"))
	pool := NewPool(PoolOptions{MaxWait: 200 * time.Millisecond}, r)
	defer pool.Close()
	_, err := pool.Call(context.Background(), testComponent, mEcho, nil, true)
	if !errors.Is(err, codegen.ErrUnavailable) || !strings.Contains(err.Error(), "registry down") {
		t.Errorf("while the resolver fails: %v, want ErrUnavailable naming its error", err)
	}
	time.AfterFunc(50*time.Millisecond, func() { r.set([]string{ts.poolAddr()}, Outage{}) })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := pool.Call(ctx, testComponent, mEcho, encodeBytes(nil), true); err != nil {
		t.Errorf("once the resolver recovers: %v", err)
	}
}

// stuckResolver answers at once, always with the version it was given:
// a resolver that breaks the long-poll contract.
type stuckResolver struct {
	calls chan time.Time
}

func (r stuckResolver) Resolve(ctx context.Context, version uint64) (Endpoints, error) {
	select {
	case r.calls <- time.Now():
	case <-ctx.Done():
		return Endpoints{}, ctx.Err()
	}
	return Endpoints{Version: version}, nil
}

// TestPoolBacksOffStuckResolver: a resolver that answers "no change" at
// once is called with backoff, not in a busy loop.
func TestPoolBacksOffStuckResolver(t *testing.T) {
	r := stuckResolver{calls: make(chan time.Time)}
	pool := NewPool(PoolOptions{MinBackoff: 20 * time.Millisecond}, r)
	defer pool.Close()
	first := <-r.calls
	var last time.Time
	for range 3 {
		last = <-r.calls
	}
	// Backoffs of 20, 40 and 80ms at least between the four calls.
	if d := last.Sub(first); d < 140*time.Millisecond {
		t.Errorf("4 calls of a stuck resolver within %v: want backoff between them", d)
	}
}
