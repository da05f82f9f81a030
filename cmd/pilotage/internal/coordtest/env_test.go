package coordtest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pilotage/pilotage/coord"
	"github.com/pilotage/pilotage/internal/coordinfo"
)

// An env is a store the suite runs against, and how to open Stores on it.
type env struct {
	name string
	etcd bool
	// open opens a new Store (a new session) on the env's store for the
	// test, with opts' TTL and Replica; the test's keys are apart from
	// every other test's.
	open func(t *testing.T, opts coord.Options) *coord.Store
}

// envs are the stores every test runs against: a real etcd, and the
// in-memory store of a single process (coord.Open with no deployer).
func envs() []env {
	return []env{
		{name: "etcd", etcd: true, open: func(t *testing.T, opts coord.Options) *coord.Store {
			opts.Endpoints = append(opts.Endpoints, sharedEtcd.endpoint())
			return connect(t, opts)
		}},
		{name: "memory", open: func(t *testing.T, opts coord.Options) *coord.Store {
			coordinfo.Set(coordinfo.Info{Prefix: testPrefix(t), TTL: opts.TTL, Replica: opts.Replica})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s, err := coord.Open(ctx)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
	}
}

// forEachEnv runs test as a subtest against every env.
func forEachEnv(t *testing.T, test func(t *testing.T, e env)) {
	for _, e := range envs() {
		t.Run(e.name, func(t *testing.T) { test(t, e) })
	}
}

// connect connects a Store with opts, prefixed for the test unless opts
// says otherwise, and closes it at the end of the test.
func connect(t *testing.T, opts coord.Options) *coord.Store {
	t.Helper()
	if opts.Prefix == "" {
		opts.Prefix = testPrefix(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := coord.Connect(ctx, opts)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var (
	runs     atomic.Int64
	prefixes sync.Map // *testing.T → string
)

// testPrefix is a prefix of keys of this test's own (of this run of it),
// the same for every Store it opens.
func testPrefix(t *testing.T) string {
	p, _ := prefixes.LoadOrStore(t, fmt.Sprintf("/coordtest/%s-%d/", strings.ReplaceAll(t.Name(), "/", "."), runs.Add(1)))
	return p.(string)
}

// ctxFor returns a context that ends after d or at the end of the test.
func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// within fails the test unless ch is ready within d.
func within[T any](t *testing.T, d time.Duration, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("%s: not within %v", what, d)
		var zero T
		return zero
	}
}

// waitFor polls cond every few milliseconds until it holds, failing the
// test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waiters returns how many wait for lock name.
func waiters(t *testing.T, s *coord.Store, name string) int {
	t.Helper()
	locks, err := s.Locks(ctxFor(t, 5*time.Second))
	if err != nil {
		t.Fatalf("locks: %v", err)
	}
	for _, l := range locks {
		if l.Name == name {
			return l.Waiters
		}
	}
	return -1
}
