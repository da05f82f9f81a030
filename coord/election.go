package coord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/pilotage/pilotage/coord/internal/backend"
)

// An Election chooses one leader among the candidates of one name.
type Election struct {
	s    *Store
	name string
}

// Election returns the election name (checked when used).
func (s *Store) Election(name string) *Election { return &Election{s: s, name: name} }

func (e *Election) dir() string { return e.s.key("elections/", e.name, "/") }

// A Leadership is won leadership; its Context is cancelled the moment it
// is lost or resigned.
type Leadership struct {
	h     *hold
	value string
}

// Campaign blocks until this candidate leads (announcing value, an
// address say, to observers), or ctx ends.
//
// Once the deployer drains this replica (it is leaving: "pilotage stop",
// a deleted pod, a rollout), the Store resigns every leadership it holds,
// so that another candidate leads at once rather than when this one has
// stopped, and Campaign no longer leads: it returns only when ctx ends or
// the Store closes. A campaign loop needs no special case for it.
func (e *Election) Campaign(ctx context.Context, value string) (*Leadership, error) {
	if err := checkName("election", e.name); err != nil {
		return nil, fmt.Errorf("coord: campaign: %w", err)
	}
	if err := checkValue("election "+e.name, []byte(value)); err != nil {
		return nil, fmt.Errorf("coord: campaign: %w", err)
	}
	s := e.s
	if s.drained.Err() != nil {
		return nil, s.waitUndrained(ctx, e.name)
	}
	// A drain while waiting ends the wait.
	waitCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.drained, cancel)()
	h, err := s.acquire(waitCtx, "election", e.name, e.dir(), func(ss *session) []byte {
		v, _ := json.Marshal(holderInfo{Value: &value, Replica: s.replica, PID: s.pid}) // cannot fail
		return v
	}, false)
	switch {
	case err != nil && s.drained.Err() != nil && ctx.Err() == nil:
		return nil, s.waitUndrained(ctx, e.name)
	case err != nil:
		return nil, err
	case !s.track(h):
		return nil, s.waitUndrained(ctx, e.name)
	}
	return &Leadership{h: h, value: value}, nil
}

// A Leader is who leads an election.
type Leader struct {
	Value string
	Token uint64 // the leadership's fencing token
}

// leaderOf returns the leader that a candidate's key describes.
func leaderOf(kv backend.KeyValue) (Leader, holderInfo) {
	var info holderInfo
	json.Unmarshal(kv.Value, &info) // a key of another version: no value
	l := Leader{Token: uint64(kv.CreateRevision)}
	if info.Value != nil {
		l.Value = *info.Value
	}
	return l, info
}

// Leader returns the current leader (ErrNoLeader if none).
func (e *Election) Leader(ctx context.Context) (Leader, error) {
	if err := checkName("election", e.name); err != nil {
		return Leader{}, fmt.Errorf("coord: leader: %w", err)
	}
	ctx, cancel := e.s.callContext(ctx)
	defer cancel()
	kvs, _, err := e.s.b.Get(ctx, backend.Op{Kind: backend.OpGet, Key: e.dir(), Prefix: true, SortByCreate: true, Limit: 1})
	if err != nil {
		return Leader{}, e.s.fail(ctx, "leader of "+e.name, err)
	}
	if len(kvs) == 0 {
		return Leader{}, fmt.Errorf("coord: election %s: %w", e.name, ErrNoLeader)
	}
	l, _ := leaderOf(kvs[0])
	return l, nil
}

// Observe yields the leader now (if any) and every change of leader after,
// until ctx ends; a zero Leader means nobody leads.
func (e *Election) Observe(ctx context.Context) func(yield func(Leader, error) bool) {
	return func(yield func(Leader, error) bool) {
		if err := checkName("election", e.name); err != nil {
			yield(Leader{}, fmt.Errorf("coord: observe: %w", err))
			return
		}
		s := e.s
		ctx, cancel := s.callContext(ctx)
		defer cancel()
		kvs, rev, err := s.b.Get(ctx, backend.Op{Kind: backend.OpGet, Key: e.dir(), Prefix: true, SortByCreate: true})
		if err != nil {
			yield(Leader{}, s.fail(ctx, "observe "+e.name, err))
			return
		}
		// The candidates, by key; the leader is the oldest.
		candidates := map[string]backend.KeyValue{}
		for _, kv := range kvs {
			candidates[kv.Key] = kv
		}
		leader := func() Leader {
			var first *backend.KeyValue
			for _, kv := range candidates {
				if first == nil || kv.CreateRevision < first.CreateRevision {
					first = &kv
				}
			}
			if first == nil {
				return Leader{}
			}
			l, _ := leaderOf(*first)
			return l
		}
		last := leader()
		if last != (Leader{}) && !yield(last, nil) {
			return
		}
		for resp := range s.b.Watch(ctx, e.dir(), true, rev+1) {
			if resp.Err != nil {
				yield(Leader{}, s.fail(ctx, "observe "+e.name, resp.Err))
				return
			}
			for _, ev := range resp.Events {
				if ev.Type == backend.EventDelete {
					delete(candidates, ev.KV.Key)
				} else {
					candidates[ev.KV.Key] = ev.KV
				}
			}
			if l := leader(); l != last {
				last = l
				if !yield(l, nil) {
					return
				}
			}
		}
		switch {
		case ctx.Err() == nil:
			yield(Leader{}, fmt.Errorf("coord: observe %s: the store ended it: %w", e.name, ErrUnavailable))
		case errors.Is(context.Cause(ctx), ErrClosed):
			yield(Leader{}, fmt.Errorf("coord: observe %s: %w", e.name, ErrClosed))
		}
	}
}

// Token returns the leadership's fencing token.
func (l *Leadership) Token() uint64 { return uint64(l.h.token) }

// Context is cancelled when the leadership is lost or resigned; its cause
// says which.
func (l *Leadership) Context() context.Context { return l.h.ctx }

// Value returns the value the leader announced.
func (l *Leadership) Value() string { return l.value }

// Resign gives the leadership up: the next candidate leads. A leadership
// already resigned or lost: ErrNotHeld.
func (l *Leadership) Resign(ctx context.Context) error { return l.h.release(ctx) }

// Put is a Put fenced by l.
func (l *Leadership) Put(ctx context.Context, key string, value []byte) (int64, error) {
	return l.h.s.Put(ctx, key, value, FencedBy(l))
}
