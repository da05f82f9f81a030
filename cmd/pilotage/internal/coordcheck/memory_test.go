package coordcheck

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pilotage/pilotage/coord"
	"github.com/pilotage/pilotage/internal/coordinfo"
)

// memorySize is how many operations the in-memory tests record.
func memorySize() int {
	if testing.Short() {
		return 2000
	}
	return 5000
}

var memoryRuns atomic.Int64

// memoryPrefix is a prefix of keys of one run of a test: the in-memory
// store lasts as long as the process, across runs (-count).
func memoryPrefix(name string) string {
	return fmt.Sprintf("/coordcheck/memory-%s-%d/", name, memoryRuns.Add(1))
}

// openMemory opens n Stores on this process's in-memory store (coord.Open
// with no deployer), under prefix, as replicas name-0, name-1, ...
func openMemory(t *testing.T, prefix, name string, n int, ttl time.Duration) []*coord.Store {
	t.Helper()
	stores := make([]*coord.Store, n)
	for i := range stores {
		coordinfo.Set(coordinfo.Info{Prefix: prefix, TTL: ttl, Replica: fmt.Sprintf("%s-%d", name, i)})
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		s, err := coord.Open(ctx)
		cancel()
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	return stores
}

// runClients runs workers goroutines on each Store until the collector
// has n results or limit passes, and returns the records.
func runClients(t *testing.T, stores []*coord.Store, workers, n int, limit time.Duration, run func(w Workload) error) []Record {
	t.Helper()
	var c Collector
	rec := NewRecorder(c.Add)
	deadline := time.Now().Add(limit)
	var stopped atomic.Bool
	stop := func() bool {
		if !stopped.Load() && (c.Returns() >= n || time.Now().After(deadline)) {
			stopped.Store(true)
		}
		return stopped.Load()
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(stores)*workers)
	for i, s := range stores {
		for g := range workers {
			w := Workload{Store: s, Rec: rec, Client: fmt.Sprintf("s%d.g%d", i, g), Rand: rand.New(rand.NewPCG(uint64(i), uint64(g))), Stop: stop}
			wg.Go(func() {
				if err := run(w); err != nil {
					errs <- fmt.Errorf("%s: %w", w.Client, err)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	return c.Records()
}

// TestMemoryKVLinearizable checks histories of concurrent Stores on the
// in-memory store against the KV model, with contiguous revisions:
// nothing else writes to the store while they run (long leases: no
// session starts or ends).
func TestMemoryKVLinearizable(t *testing.T) {
	keys := []string{"kv/a", "kv/b", "kv/c", "kv/d"}
	stores := openMemory(t, memoryPrefix("kv"), "kv", 4, time.Minute)
	rev, err := stores[0].Revision(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	records := runClients(t, stores, 2, memorySize(), 20*time.Second, func(w Workload) error {
		return w.RunKV(t.Context(), keys)
	})
	ops := checkLinearizable(t, "kv", KVModel{Keys: keys, Contiguous: true, InitialRev: rev}, records, checkTimeout)
	if err := CheckRevisions(ops); err != nil {
		t.Fatal(err)
	}
	t.Logf("kv: %v", outcomes(ops))
}

// TestMemoryLocksLinearizable checks histories of concurrent Stores
// taking locks and leaderships on the in-memory store against the lock
// model, while an
// operator takes locks from their holders (ForceUnlock, recorded) and a
// deployer revokes the sessions of replicas (not recorded: a loss the
// holders learn of on their own, as after a crash).
func TestMemoryLocksLinearizable(t *testing.T) {
	names := []string{"a", "b", "c", ElectionPrefix + "d"}
	prefix := memoryPrefix("locks")
	stores := openMemory(t, prefix, "locks", 4, 0)
	operator := openMemory(t, prefix, "operator", 1, 0)[0]
	var forced, revoked atomic.Int64
	ctx, cancel := context.WithCancel(t.Context())
	chaosDone := make(chan struct{})
	records := runClients(t, stores, 2, memorySize(), 20*time.Second, func(w Workload) error {
		if w.Client == "s0.g0" {
			// One client's goroutine also starts the chaos, which records
			// into the same history.
			go func() {
				defer close(chaosDone)
				chaos(ctx, t, Workload{Store: operator, Rec: w.Rec, Client: "operator", Rand: rand.New(rand.NewPCG(9, 9))}, names, &forced, &revoked)
			}()
		}
		return w.RunLocks(t.Context(), names)
	})
	cancel()
	<-chaosDone
	t.Logf("chaos: %d force-unlocks, %d sessions revoked", forced.Load(), revoked.Load())
	ops := checkLinearizable(t, "locks", LockModel{}, records, checkTimeout)
	if err := CheckRevisions(ops); err != nil {
		t.Fatal(err)
	}
	t.Logf("locks: %v", outcomes(ops))
}

// chaos force-unlocks a random lock (not an election), or revokes the sessions of a random
// replica, every few milliseconds until ctx ends.
func chaos(ctx context.Context, t *testing.T, op Workload, names []string, forced, revoked *atomic.Int64) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(2+op.Rand.IntN(10)) * time.Millisecond):
		}
		if name := names[op.Rand.IntN(len(names))]; op.Rand.IntN(2) == 0 && !IsElection(name) {
			if err := op.ForceUnlock(ctx, name); err != nil {
				t.Errorf("force unlock: %v", err)
				return
			}
			forced.Add(1)
			continue
		}
		n, err := op.Store.RevokeReplica(ctx, fmt.Sprintf("locks-%d", op.Rand.IntN(4)), 0)
		if err != nil && ctx.Err() == nil {
			t.Errorf("revoke replica: %v", err)
			return
		}
		revoked.Add(int64(n))
	}
}
