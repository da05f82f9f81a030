// Package membackend is an in-memory backend.Backend for an app that runs
// in one process (go run, pilotagetest). It follows etcd v3's semantics:
// one global revision (a fresh store is at revision 1, its first write
// gets 2), advanced once per transaction that changes something; per key
// create and mod revisions and a version; leases whose keys are deleted,
// at one revision, when they expire or are revoked; and watches that
// replay the kept history and then follow live writes.
//
// All state sits behind one mutex, so every operation is linearizable.
// Watchers read the shared history at their own pace (see watch.go) and
// never block writers; leases expire on a timer (see lease.go).
package membackend

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pilotage/pilotage/coord/internal/backend"
)

// The store keeps the events of the last defaultHistoryRevs revisions for
// watches, fewer if their keys and values pass defaultHistoryBytes; a
// watch from an older revision ends with backend.ErrCompacted.
const (
	defaultHistoryRevs  = 100_000
	defaultHistoryBytes = 64 << 20
)

// errClosed is the error of every call on a closed store.
var errClosed = errors.New("membackend: store closed")

// store is the backend. Every field below mu is guarded by it.
type store struct {
	done chan struct{} // closed by Close: ends watchers and the expiry loop
	kick chan struct{} // wakes the expiry loop when an earlier expiry appears
	wg   sync.WaitGroup

	maxHistRevs  int // revisions kept in hist at most
	maxHistBytes int // bytes of keys and values kept in hist at most
	maxBatch     int // events per WatchResponse, rounded up to a revision

	mu      sync.Mutex
	closed  bool
	keys    keyIndex
	rev     int64         // the store's current revision
	leases  leaseTable    // live leases by id and by expiry
	hist    history       // events of the kept revisions
	changed chan struct{} // closed and replaced at every new revision
}

var _ backend.Backend = (*store)(nil)

// New returns an empty store, at revision 1. Close it to stop its timer
// and end its watches.
func New() backend.Backend {
	return newStore(defaultHistoryRevs, defaultHistoryBytes)
}

func newStore(maxHistRevs, maxHistBytes int) *store {
	s := &store{
		done:         make(chan struct{}),
		kick:         make(chan struct{}, 1),
		maxHistRevs:  maxHistRevs,
		maxHistBytes: maxHistBytes,
		maxBatch:     1000,
		keys:         newKeyIndex(),
		rev:          1,
		leases:       newLeaseTable(),
		changed:      make(chan struct{}),
	}
	s.wg.Add(1)
	go s.expireLoop()
	return s
}

// Txn applies t atomically at one revision.
func (s *store) Txn(ctx context.Context, t backend.Txn) (backend.TxnResult, error) {
	res, err := s.txn(ctx, t)
	if err != nil {
		return backend.TxnResult{}, fmt.Errorf("txn: %w", err)
	}
	return res, nil
}

// Get reads the keys op selects.
func (s *store) Get(ctx context.Context, op backend.Op) ([]backend.KeyValue, int64, error) {
	if op.Kind != backend.OpGet {
		return nil, 0, fmt.Errorf("get %q: op kind %d is not OpGet", op.Key, op.Kind)
	}
	res, err := s.txn(ctx, backend.Txn{Then: []backend.Op{op}})
	if err != nil {
		return nil, 0, fmt.Errorf("get %q: %w", op.Key, err)
	}
	return res.Results[0].KVs, res.Revision, nil
}

func (s *store) txn(ctx context.Context, t backend.Txn) (backend.TxnResult, error) {
	if err := ctx.Err(); err != nil {
		return backend.TxnResult{}, err
	}
	if err := checkTxn(t); err != nil {
		return backend.TxnResult{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return backend.TxnResult{}, errClosed
	}
	s.expireDue(time.Now())
	ok := s.holds(t.If)
	ops := t.Then
	if !ok {
		ops = t.Else
	}
	for _, op := range ops {
		if op.Kind == backend.OpPut && op.Lease != 0 && !s.leases.has(op.Lease) {
			return backend.TxnResult{}, fmt.Errorf("put %q with lease %x: %w", op.Key, int64(op.Lease), backend.ErrLeaseNotFound)
		}
	}
	w := s.beginWrite()
	results := make([]backend.OpResult, len(ops))
	for i, op := range ops {
		results[i] = w.apply(op)
	}
	s.endWrite(w)
	return backend.TxnResult{Succeeded: ok, Revision: s.rev, Results: results}, nil
}

// holds reports whether every comparison holds now.
func (s *store) holds(cmps []backend.Cmp) bool {
	for _, c := range cmps {
		var got int64
		if kv := s.keys.get(c.Key); kv != nil {
			switch c.Field {
			case backend.CreateRevision:
				got = kv.CreateRevision
			case backend.ModRevision:
				got = kv.ModRevision
			}
		}
		if got != c.Revision {
			return false
		}
	}
	return true
}

// Close ends every watch and stops the expiry timer, and waits for their
// goroutines. Leases are not revoked. Later calls fail.
func (s *store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}
