package membackend

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pilotage/pilotage/coord/internal/backend"
)

// history keeps the events of the last revisions, one entry per revision
// in order with no gaps (every revision has at least one event: a write
// that changes nothing takes no revision).
type history struct {
	revs  []revEvents
	bytes int // the size of revs' events, roughly
	// compacted is etcd's compact revision: events before it are gone, so
	// a watch from a revision below it fails. 0: nothing compacted.
	compacted int64
}

type revEvents struct {
	rev    int64
	events []backend.Event
	bytes  int
}

// eventOverhead is what an event costs beyond its key and value.
const eventOverhead = 64

// append adds rev's events, then drops the oldest revisions beyond
// maxRevs or maxBytes (always keeping rev itself).
func (h *history) append(rev int64, events []backend.Event, maxRevs, maxBytes int) {
	size := 0
	for _, e := range events {
		size += len(e.KV.Key) + len(e.KV.Value) + eventOverhead
	}
	h.revs = append(h.revs, revEvents{rev: rev, events: events, bytes: size})
	h.bytes += size
	n := max(len(h.revs)-maxRevs, 0)
	kept := h.bytes
	for _, r := range h.revs[:n] {
		kept -= r.bytes
	}
	for ; n < len(h.revs)-1 && kept > maxBytes; n++ {
		kept -= h.revs[n].bytes
	}
	if n > 0 {
		h.compact(h.revs[n].rev)
	}
}

// compact drops every revision before rev.
func (h *history) compact(rev int64) {
	n := 0
	for n < len(h.revs) && h.revs[n].rev < rev {
		h.bytes -= h.revs[n].bytes
		h.revs[n] = revEvents{} // let the collector have the events
		n++
	}
	h.revs = h.revs[n:]
	h.compacted = max(h.compacted, rev)
}

// from returns the kept revisions from rev on.
func (h *history) from(rev int64) []revEvents {
	if len(h.revs) == 0 {
		return nil
	}
	i := rev - h.revs[0].rev
	switch {
	case i < 0:
		i = 0
	case i >= int64(len(h.revs)):
		return nil
	}
	return h.revs[i:]
}

// Compact drops the history before rev, as etcd's Compact does: a watch
// from a revision below rev then ends with backend.ErrCompacted. The
// conformance suite uses it (backendtest.Compacter).
func (s *store) Compact(ctx context.Context, rev int64) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("compact at %d: %w", rev, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return fmt.Errorf("compact at %d: %w", rev, errClosed)
	case rev <= s.hist.compacted:
		return fmt.Errorf("compact at %d: %w", rev, backend.ErrCompacted)
	case rev > s.rev:
		return fmt.Errorf("compact at %d: future revision (store at %d)", rev, s.rev)
	}
	s.hist.compact(rev)
	return nil
}

// A watcher is one Watch: it reads the shared history from its cursor, so
// writers never wait for it and never queue events for it. A watcher that
// falls behind everything the history keeps ends with ErrCompacted, as a
// slow etcd watcher does.
type watcher struct {
	key    string
	prefix bool
	next   int64 // the first revision not yet delivered
	out    chan backend.WatchResponse
}

func (w *watcher) matches(key string) bool {
	if w.prefix {
		return strings.HasPrefix(key, w.key)
	}
	return key == w.key
}

// Watch streams the changes of key (every key under it if prefix) from
// revision from (0: the next write), replaying the kept history first.
func (s *store) Watch(ctx context.Context, key string, prefix bool, from int64) <-chan backend.WatchResponse {
	w := &watcher{key: key, prefix: prefix, out: make(chan backend.WatchResponse)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		close(w.out)
		return w.out
	}
	w.next = from
	if from <= 0 {
		// Fixed now, not when the goroutine starts: a write after Watch
		// returns is seen.
		w.next = s.rev + 1
	}
	s.wg.Add(1)
	go s.runWatch(ctx, w)
	return w.out
}

func (s *store) runWatch(ctx context.Context, w *watcher) {
	defer s.wg.Done()
	defer close(w.out)
	if w.key == "" && !w.prefix {
		s.send(ctx, w, backend.WatchResponse{Err: errors.New("watch: key is not provided")})
		return
	}
	for ctx.Err() == nil {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return
		}
		if w.next < s.hist.compacted {
			err := fmt.Errorf("watch %q from revision %d: %w (oldest kept: %d)", w.key, w.next, backend.ErrCompacted, s.hist.compacted)
			s.mu.Unlock()
			s.send(ctx, w, backend.WatchResponse{Err: err})
			return
		}
		events, caughtUp := s.collect(w)
		changed := s.changed
		s.mu.Unlock()

		if len(events) > 0 {
			// Values are copied here, off the lock: stored ones are never
			// mutated, and a receiver may mutate its own.
			for i := range events {
				events[i].KV.Value = slices.Clone(events[i].KV.Value)
			}
			if !s.send(ctx, w, backend.WatchResponse{Events: events}) {
				return
			}
		}
		if !caughtUp {
			continue
		}
		// changed was taken with the events: if a write came since, it
		// is closed already.
		select {
		case <-changed:
		case <-ctx.Done():
			return
		case <-s.done:
			return
		}
	}
}

// maxScan bounds the revisions one collect looks at, so that a watch
// replaying a long history does not hold the store's lock for long.
const maxScan = 4096

// collect returns w's events from its cursor on, whole revisions up to
// maxBatch events or maxScan revisions, and moves the cursor past them.
// caughtUp says whether the cursor is past the store's revision.
func (s *store) collect(w *watcher) (events []backend.Event, caughtUp bool) {
	for i, r := range s.hist.from(w.next) {
		if len(events) >= s.maxBatch || i == maxScan {
			return events, false
		}
		for _, ev := range r.events {
			if w.matches(ev.KV.Key) {
				events = append(events, ev)
			}
		}
		w.next = r.rev + 1
	}
	w.next = max(w.next, s.rev+1)
	return events, true
}

// send delivers resp unless ctx ends or the store closes first.
func (s *store) send(ctx context.Context, w *watcher, resp backend.WatchResponse) bool {
	select {
	case w.out <- resp:
		return true
	case <-ctx.Done():
		return false
	case <-s.done:
		return false
	}
}
