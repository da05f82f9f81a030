package coord

import (
	"context"
	"fmt"
	"time"
)

// drainResignTimeout bounds resigning the leaderships of a drained
// process.
const drainResignTimeout = 5 * time.Second

// drain is what a Store of Open does when the deployer drains its process
// (the replica is leaving: its callers are being sent elsewhere, a Stop
// follows): it resigns every leadership it holds, so that another
// replica leads at once instead of when this one stops, and campaigns no
// more (see Campaign). Locks are kept: a critical section runs to its end.
func (s *Store) drain() {
	s.mu.Lock()
	s.drainNow()
	holds := make([]*hold, 0, len(s.leaderships))
	for h := range s.leaderships {
		holds = append(holds, h)
	}
	clear(s.leaderships)
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(s.done, drainResignTimeout)
	defer cancel()
	for _, h := range holds {
		_ = h.release(ctx) // lost or released meanwhile: nothing to resign
	}
}

// track records h, a leadership just won, for a drain to resign; if the
// Store is drained already, it resigns h and reports false.
func (s *Store) track(h *hold) bool {
	s.mu.Lock()
	if s.drained.Err() != nil {
		s.mu.Unlock()
		ctx, cancel := context.WithTimeout(s.done, drainResignTimeout)
		defer cancel()
		_ = h.release(ctx)
		return false
	}
	s.leaderships[h] = true
	s.mu.Unlock()
	context.AfterFunc(h.ctx, func() {
		s.mu.Lock()
		delete(s.leaderships, h)
		s.mu.Unlock()
	})
	return true
}

// waitUndrained is a campaign of a drained Store: it never leads, and
// returns when ctx ends or the Store closes.
func (s *Store) waitUndrained(ctx context.Context, name string) error {
	select {
	case <-ctx.Done():
		return fmt.Errorf("coord: campaign %s: %w (the replica is leaving: it campaigns no more)", name, ctx.Err())
	case <-s.done.Done():
		return fmt.Errorf("coord: campaign %s: %w", name, ErrClosed)
	}
}
