package coord

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pilotage/pilotage/coord/internal/backend"
)

// Locks and elections share one scheme: a candidate puts a key of its
// session, dir + lease id, in the name's directory; the key with the
// smallest create revision holds, and its create revision is the fencing
// token. A waiter watches the deletion of the key just before its own, so
// a release wakes one waiter, not all.

// A hold is a held key: a lock or a leadership.
type hold struct {
	s     *Store
	kind  string // "lock" or "election", for errors
	name  string
	key   string
	token int64
	// ctx is cancelled when the hold ends: released (cause errReleased)
	// or lost (a cause wrapping ErrNotHeld that says how).
	ctx    context.Context
	cancel context.CancelCauseFunc

	mu       sync.Mutex
	released bool
	finish   func() // stops the watch and frees the name in the Store, once
}

var errReleased = fmt.Errorf("%w: released by its holder", ErrNotHeld)

// acquire enqueues a key of the current session in dir and waits until it
// holds (or, if try, fails with ErrLocked unless it holds at once). A
// session lost while waiting is replaced and the wait starts again.
func (s *Store) acquire(ctx context.Context, kind, name, dir string, value func(*session) []byte, try bool) (*hold, error) {
	unlockLocal, err := s.localLock(ctx, dir, try)
	if err != nil {
		return nil, fmt.Errorf("coord: %s %s: %w", kind, name, err)
	}
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	for {
		sess, err := s.currentSession(ctx)
		if err == nil {
			key := dir + leaseHex(sess.lease)
			var token int64
			token, err = s.enqueue(ctx, sess, key, dir, value(sess), try)
			if err == nil && sess.ctx.Err() != nil {
				// Granted to a session lost meanwhile (on this process's
				// clock: its lease is being revoked): not a hold.
				err = errSessionLost
			}
			if err == nil {
				return s.newHold(sess, kind, name, key, token, unlockLocal), nil
			}
			if errors.Is(err, errSessionLost) || errors.Is(err, errKeyDeleted) {
				continue
			}
			if !errors.Is(err, ErrLocked) {
				// The key may be in the queue (a wait given up, a put whose
				// answer was lost): delete it before the name is free again
				// in this Store, but not past the caller's deadline.
				free := unlockLocal
				go func() {
					s.abandon(key)
					free()
				}()
				unlockLocal = func() {}
			}
		}
		unlockLocal()
		switch {
		case errors.Is(err, ErrLocked):
			return nil, fmt.Errorf("coord: %s %s: %w", kind, name, ErrLocked)
		case ctx.Err() != nil && !errors.Is(context.Cause(ctx), ErrClosed):
			return nil, fmt.Errorf("coord: %s %s: %w", kind, name, ctx.Err())
		}
		return nil, s.fail(ctx, kind+" "+name, err)
	}
}

// errSessionLost ends a wait whose session (and key) was lost;
// errKeyDeleted one whose key was deleted while it waited.
var (
	errSessionLost = errors.New("session lost while waiting")
	errKeyDeleted  = errors.New("key deleted while waiting")
)

// enqueue puts key and waits until it is the oldest in dir; it returns
// its create revision. On failure it deletes key.
func (s *Store) enqueue(ctx context.Context, sess *session, key, dir string, value []byte, try bool) (_ int64, err error) {
	var token int64
	oldest := backend.Op{Kind: backend.OpGet, Key: dir, Prefix: true, SortByCreate: true, Limit: 1}
	for {
		res, err := s.b.Txn(ctx, backend.Txn{
			If:   []backend.Cmp{{Key: key, Field: backend.CreateRevision, Revision: 0}},
			Then: []backend.Op{{Kind: backend.OpPut, Key: key, Value: value, Lease: sess.lease}, oldest},
			// A key left by an earlier hold of this session whose release
			// failed: delete it and enqueue anew (reusing it would reuse
			// its token).
			Else: []backend.Op{{Kind: backend.OpDelete, Key: key}},
		})
		if errors.Is(err, backend.ErrLeaseNotFound) {
			sess.lose(fmt.Errorf("%w: session lease %s found ended", ErrNotHeld, leaseHex(sess.lease)))
			return 0, errSessionLost
		}
		if err != nil {
			return 0, err
		}
		if res.Succeeded {
			token = res.Revision
			if kvs := res.Results[1].KVs; len(kvs) > 0 && kvs[0].CreateRevision == token {
				return token, nil
			}
			break
		}
	}
	if try {
		if _, err := s.dequeue(ctx, key, token); err != nil {
			return 0, err
		}
		return 0, ErrLocked
	}
	for {
		kvs, rev, err := s.b.Get(ctx, backend.Op{Kind: backend.OpGet, Key: dir, Prefix: true, SortByCreate: true})
		if err != nil {
			return 0, err
		}
		var pred *backend.KeyValue
		mine := false
		for i := range kvs {
			if kvs[i].Key == key {
				mine = kvs[i].CreateRevision == token
				break
			}
			pred = &kvs[i]
		}
		switch {
		case !mine:
			// Our key is gone: deleted by force, or with its lease, which
			// enqueuing again tells (ErrLeaseNotFound).
			return 0, errKeyDeleted
		case pred == nil:
			return token, nil
		}
		if err := s.waitDelete(ctx, sess, pred.Key, rev+1); err != nil {
			return 0, err
		}
	}
}

// waitDelete waits until key is deleted at revision from or later.
func (s *Store) waitDelete(ctx context.Context, sess *session, key string, from int64) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(sess.ctx, cancel)
	defer stop()
	for resp := range s.b.Watch(wctx, key, false, from) {
		if resp.Err != nil {
			return resp.Err
		}
		for _, ev := range resp.Events {
			if ev.Type == backend.EventDelete {
				return nil
			}
		}
	}
	if sess.ctx.Err() != nil && ctx.Err() == nil {
		return errSessionLost
	}
	return context.Cause(ctx)
}

// dequeue deletes key if it is still the one of token.
func (s *Store) dequeue(ctx context.Context, key string, token int64) (bool, error) {
	res, err := s.b.Txn(ctx, backend.Txn{
		If:   []backend.Cmp{{Key: key, Field: backend.CreateRevision, Revision: token}},
		Then: []backend.Op{{Kind: backend.OpDelete, Key: key}},
	})
	if err != nil {
		return false, err
	}
	return res.Succeeded, nil
}

// abandon deletes key, which no hold of this Store uses, trying for the
// session's TTL at most: past it, the key is left to its lease.
func (s *Store) abandon(key string) {
	ctx, cancel := context.WithTimeout(context.Background(), s.ttl)
	defer cancel()
	for {
		_, err := s.b.Txn(ctx, backend.Txn{Then: []backend.Op{{Kind: backend.OpDelete, Key: key}}})
		if err == nil || ctx.Err() != nil || s.done.Err() != nil {
			return // deleted, or left to its lease
		}
		select {
		case <-time.After(retryDelay(s.ttl)):
		case <-ctx.Done():
			return
		}
	}
}

// newHold returns the hold of a granted key, which follows its key: its
// deletion (by force, or by its lease's end) cancels the hold.
func (s *Store) newHold(sess *session, kind, name, key string, token int64, unlockLocal func()) *hold {
	h := &hold{s: s, kind: kind, name: name, key: key, token: token}
	h.ctx, h.cancel = context.WithCancelCause(sess.ctx)
	wctx, stopWatch := context.WithCancel(h.ctx)
	h.finish = sync.OnceFunc(func() {
		stopWatch()
		unlockLocal()
	})
	go h.follow(wctx)
	context.AfterFunc(h.ctx, func() {
		h.mu.Lock()
		released := h.released
		h.mu.Unlock()
		if !released {
			h.finish() // lost: the name is free again in this Store
		}
	})
	return h
}

// followDelay is how long a hold runs before it watches its key: holds
// shorter than that (lock, write, unlock) cost no watch. The watch starts
// from the grant's revision, so a deletion meanwhile is not missed, only
// seen later; fenced writes never depend on it.
const followDelay = 20 * time.Millisecond

// follow cancels the hold when its key is deleted.
func (h *hold) follow(ctx context.Context) {
	select {
	case <-time.After(followDelay):
	case <-ctx.Done():
		return
	}
	from := h.token + 1
	for ctx.Err() == nil {
		for resp := range h.s.b.Watch(ctx, h.key, false, from) {
			if resp.Err != nil {
				break
			}
			for _, ev := range resp.Events {
				if ev.Type == backend.EventDelete {
					h.cancel(fmt.Errorf("%w: %s %s: its key was deleted (released by force, its session revoked, or its lease expired)", ErrNotHeld, h.kind, h.name))
					return
				}
				from = ev.KV.ModRevision + 1
			}
		}
		if ctx.Err() != nil {
			return
		}
		// The watch failed (compacted, say): check the key itself.
		kvs, rev, err := h.s.b.Get(ctx, backend.Op{Kind: backend.OpGet, Key: h.key})
		if err != nil {
			select {
			case <-time.After(retryDelay(h.s.ttl)):
			case <-ctx.Done():
			}
			continue
		}
		if len(kvs) == 0 || kvs[0].CreateRevision != h.token {
			h.cancel(fmt.Errorf("%w: %s %s: its key was deleted", ErrNotHeld, h.kind, h.name))
			return
		}
		from = rev + 1
	}
}

// release ends the hold and deletes its key.
func (h *hold) release(ctx context.Context) error {
	h.mu.Lock()
	if h.released {
		h.mu.Unlock()
		return fmt.Errorf("coord: %s %s: already released: %w", h.kind, h.name, ErrNotHeld)
	}
	h.released = true
	lostBy := context.Cause(h.ctx)
	h.mu.Unlock()
	// The holder stops acting before anyone else can be granted.
	h.cancel(errReleased)
	if lostBy != nil {
		h.finish()
		return fmt.Errorf("coord: %s %s: lost before its release: %w", h.kind, h.name, lostBy)
	}
	ctx, cancel := h.s.callContext(ctx)
	defer cancel()
	res, err := h.s.b.Txn(ctx, backend.Txn{
		If:   []backend.Cmp{{Key: h.key, Field: backend.CreateRevision, Revision: h.token}},
		Then: []backend.Op{{Kind: backend.OpDelete, Key: h.key}},
	})
	if err != nil {
		// Deleted in the background (at worst, at the lease's end); the
		// name stays taken in this Store until then.
		go func() {
			h.s.abandon(h.key)
			h.finish()
		}()
		return h.s.fail(ctx, h.kind+" "+h.name+": release", err)
	}
	h.finish()
	if !res.Succeeded {
		return fmt.Errorf("coord: %s %s: lost before its release: %w", h.kind, h.name, ErrNotHeld)
	}
	return nil
}

// fence returns the condition of a write fenced by h, or the error of a
// write that must not be sent.
func (h *hold) fence() (backend.Cmp, error) {
	if cause := context.Cause(h.ctx); cause != nil {
		if errors.Is(cause, errReleased) {
			return backend.Cmp{}, fmt.Errorf("%s %s: %w", h.kind, h.name, errReleased)
		}
		return backend.Cmp{}, fmt.Errorf("%s %s: %w (%w)", h.kind, h.name, ErrFenced, cause)
	}
	return backend.Cmp{Key: h.key, Field: backend.CreateRevision, Revision: h.token}, nil
}

// A localSlot lets one hold at a time of a Store wait for or hold a name:
// every hold of a session has the same key in the name's directory.
type localSlot struct {
	ch   chan struct{}
	refs int
}

// localLock takes the Store's slot of dir, waiting for it unless try.
func (s *Store) localLock(ctx context.Context, dir string, try bool) (unlock func(), err error) {
	s.mu.Lock()
	l := s.local[dir]
	if l == nil {
		l = &localSlot{ch: make(chan struct{}, 1)}
		s.local[dir] = l
	}
	l.refs++
	s.mu.Unlock()
	drop := func() {
		s.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(s.local, dir)
		}
		s.mu.Unlock()
	}
	select {
	case l.ch <- struct{}{}:
		return sync.OnceFunc(func() { <-l.ch; drop() }), nil
	default:
	}
	if try {
		drop()
		return nil, ErrLocked
	}
	select {
	case l.ch <- struct{}{}:
		return sync.OnceFunc(func() { <-l.ch; drop() }), nil
	case <-ctx.Done():
		drop()
		return nil, context.Cause(ctx)
	case <-s.done.Done():
		drop()
		return nil, ErrClosed
	}
}
