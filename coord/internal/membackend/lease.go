package membackend

import (
	"container/heap"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/pilotage/pilotage/coord/internal/backend"
)

// A lease is a live lease. Its expiry is a time.Time read from the
// monotonic clock (time.Now), so wall-clock steps do not move it.
type lease struct {
	id     backend.LeaseID
	ttl    time.Duration
	expiry time.Time
	keys   map[string]struct{}
	index  int // in leaseTable.byExpiry
}

// A leaseTable holds the live leases by id and in a min-heap by expiry,
// so the expiry loop only ever looks at the earliest one.
type leaseTable struct {
	byID     map[backend.LeaseID]*lease
	byExpiry expiryHeap
	next     backend.LeaseID // the last id granted
}

func newLeaseTable() leaseTable {
	return leaseTable{byID: make(map[backend.LeaseID]*lease)}
}

func (t *leaseTable) has(id backend.LeaseID) bool { return t.byID[id] != nil }

func (t *leaseTable) attach(id backend.LeaseID, key string) {
	if l := t.byID[id]; l != nil {
		l.keys[key] = struct{}{}
	}
}

func (t *leaseTable) detach(id backend.LeaseID, key string) {
	if l := t.byID[id]; l != nil {
		delete(l.keys, key)
	}
}

// earliest returns the lease that expires first, or nil.
func (t *leaseTable) earliest() *lease {
	if len(t.byExpiry) == 0 {
		return nil
	}
	return t.byExpiry[0]
}

func (t *leaseTable) remove(l *lease) {
	heap.Remove(&t.byExpiry, l.index)
	delete(t.byID, l.id)
}

// Grant creates a lease of ttl. Ids are never reused within a store.
func (s *store) Grant(ctx context.Context, ttl time.Duration) (backend.LeaseID, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("grant lease: %w", err)
	}
	if ttl <= 0 {
		return 0, fmt.Errorf("grant lease: ttl %v is not positive", ttl)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, fmt.Errorf("grant lease: %w", errClosed)
	}
	s.leases.next++
	l := &lease{
		id:     s.leases.next,
		ttl:    ttl,
		expiry: time.Now().Add(ttl),
		keys:   make(map[string]struct{}),
	}
	s.leases.byID[l.id] = l
	heap.Push(&s.leases.byExpiry, l)
	if s.leases.earliest() == l {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	return l.id, nil
}

// KeepAliveOnce resets the lease's expiry to now plus its ttl.
func (s *store) KeepAliveOnce(ctx context.Context, id backend.LeaseID) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("keep lease %x alive: %w", int64(id), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, fmt.Errorf("keep lease %x alive: %w", int64(id), errClosed)
	}
	now := time.Now()
	s.expireDue(now)
	l := s.leases.byID[id]
	if l == nil {
		return 0, fmt.Errorf("keep lease %x alive: %w", int64(id), backend.ErrLeaseNotFound)
	}
	// The expiry only moves later, so the loop's timer, if it was set for
	// this lease, fires early, finds nothing due and waits again.
	l.expiry = now.Add(l.ttl)
	heap.Fix(&s.leases.byExpiry, l.index)
	return l.ttl, nil
}

// Revoke ends the lease now, deleting its keys at one revision.
func (s *store) Revoke(ctx context.Context, id backend.LeaseID) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("revoke lease %x: %w", int64(id), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("revoke lease %x: %w", int64(id), errClosed)
	}
	s.expireDue(time.Now())
	l := s.leases.byID[id]
	if l == nil {
		return fmt.Errorf("revoke lease %x: %w", int64(id), backend.ErrLeaseNotFound)
	}
	s.end(l)
	return nil
}

// end removes l and deletes its keys, in key order as etcd does, in one
// write: one revision for all of them, none if it had no keys.
func (s *store) end(l *lease) {
	s.leases.remove(l)
	keys := make([]string, 0, len(l.keys))
	for k := range l.keys {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	w := s.beginWrite()
	for _, k := range keys {
		w.delete(k)
	}
	s.endWrite(w)
}

// expireDue ends every lease whose expiry is not after now. Every call
// that reads or writes leases or keys runs it first, so no operation ever
// sees a lease past its expiry even if the loop has not woken yet.
func (s *store) expireDue(now time.Time) {
	for {
		l := s.leases.earliest()
		if l == nil || l.expiry.After(now) {
			return
		}
		s.end(l)
	}
}

// expireLoop ends leases on time, so that watchers see their keys' deletes
// without anyone touching the store. It sleeps until the earliest expiry,
// or until Grant adds an earlier one.
func (s *store) expireLoop() {
	defer s.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return
		}
		now := time.Now()
		s.expireDue(now)
		var wait <-chan time.Time
		if l := s.leases.earliest(); l != nil {
			timer.Reset(l.expiry.Sub(now))
			wait = timer.C
		}
		s.mu.Unlock()
		select {
		case <-wait:
		case <-s.kick:
		case <-s.done:
			return
		}
	}
}

// expiryHeap orders leases by expiry for container/heap.
type expiryHeap []*lease

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].expiry.Before(h[j].expiry) }
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *expiryHeap) Push(x any) {
	l := x.(*lease)
	l.index = len(*h)
	*h = append(*h, l)
}
func (h *expiryHeap) Pop() any {
	old := *h
	l := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return l
}
