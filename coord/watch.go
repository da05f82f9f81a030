package coord

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/pilotage/pilotage/coord/internal/backend"
)

// An EventType says what happened to a key.
type EventType int

const (
	Put     EventType = iota // the key was created or changed
	Deleted                  // the key was deleted
)

// String returns "put" or "deleted".
func (t EventType) String() string {
	switch t {
	case Put:
		return "put"
	case Deleted:
		return "deleted"
	}
	return fmt.Sprintf("EventType(%d)", int(t))
}

// An Event is one change of one key; Entry.Revision is the change's
// revision (for Deleted, Value is empty).
type Event struct {
	Type EventType
	Entry
}

// Watch returns every change of the keys starting with prefix at revision
// from and after (0: from now on), in revision order: none is lost or
// repeated, even across a lost connection to the store, which is resumed
// where it left off. The iterator ends when ctx does (no error), or with
// ErrCompacted or ErrClosed.
//
//	for ev, err := range store.Watch(ctx, "flags/", rev+1) { ... }
func (s *Store) Watch(ctx context.Context, prefix string, from int64) func(yield func(Event, error) bool) {
	return func(yield func(Event, error) bool) {
		if err := checkPrefix("prefix", prefix); err != nil {
			yield(Event{}, fmt.Errorf("coord: watch: %w", err))
			return
		}
		if from < 0 {
			yield(Event{}, fmt.Errorf("coord: watch: %w", invalid("revision", fmt.Sprintf("%d is negative", from))))
			return
		}
		wctx, cancel := s.callContext(ctx)
		defer cancel()
		base := s.configKey("")
		for resp := range s.b.Watch(wctx, base+prefix, true, from) {
			if resp.Err != nil {
				if ctx.Err() == nil {
					yield(Event{}, s.fail(wctx, "watch "+prefix, resp.Err))
				}
				return
			}
			for _, ev := range resp.Events {
				e := Event{Entry: entry(strings.TrimPrefix(ev.KV.Key, base), ev.KV)}
				if ev.Type == backend.EventDelete {
					e.Type = Deleted
					e.Value = nil
				}
				if !yield(e, nil) {
					return
				}
			}
		}
		switch {
		case ctx.Err() != nil:
		case errors.Is(context.Cause(wctx), ErrClosed):
			yield(Event{}, fmt.Errorf("coord: watch %s: %w", prefix, ErrClosed))
		default:
			yield(Event{}, fmt.Errorf("coord: watch %s: the store ended it: %w", prefix, ErrUnavailable))
		}
	}
}
