package coord

import (
	"context"
	"errors"
	"fmt"
)

// A Lock is a held lock. Its Context is cancelled the moment it is lost or
// released.
type Lock struct {
	h *hold
}

func (s *Store) lockDir(name string) string { return s.key("locks/", name, "/") }

// Lock blocks until it holds the lock name, or ctx ends (ctx's error).
func (s *Store) Lock(ctx context.Context, name string) (*Lock, error) {
	return s.lock(ctx, name, false)
}

// TryLock takes the lock name if nobody holds it, else fails with
// ErrLocked at once.
func (s *Store) TryLock(ctx context.Context, name string) (*Lock, error) {
	return s.lock(ctx, name, true)
}

func (s *Store) lock(ctx context.Context, name string, try bool) (*Lock, error) {
	if err := checkName("lock", name); err != nil {
		return nil, fmt.Errorf("coord: lock: %w", err)
	}
	h, err := s.acquire(ctx, "lock", name, s.lockDir(name), func(ss *session) []byte { return ss.value }, try)
	if err != nil {
		return nil, err
	}
	return &Lock{h: h}, nil
}

// Do runs fn holding the lock name: it waits for the lock as Lock does,
// runs fn with a context cancelled when the lock is lost, and releases it
// when fn returns. If the lock was lost while fn ran, Do returns an error
// wrapping ErrNotHeld (joined with fn's error, if any).
//
// Writes that must not outlive the lock go through l (l.Put, l.Delete, or
// the FencedBy(l) option): they fail with ErrFenced, changing nothing,
// once it is lost. Writes through the Store without FencedBy are not
// fenced.
func (s *Store) Do(ctx context.Context, name string, fn func(ctx context.Context, l *Lock) error) error {
	l, err := s.Lock(ctx, name)
	if err != nil {
		return err
	}
	fctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(l.h.ctx, func() { cancel(context.Cause(l.h.ctx)) })
	ferr := fn(fctx, l)
	stop()
	cancel(nil)
	uerr := l.Unlock(ctx)
	switch {
	case errors.Is(uerr, ErrNotHeld):
		uerr = fmt.Errorf("coord: lock %s was lost while Do ran: %w", name, uerr)
	case uerr != nil && ctx.Err() != nil:
		// ctx ended: the lock was given up at once and its key is deleted
		// in the background; fn's error says what happened.
		uerr = nil
	}
	return errors.Join(ferr, uerr)
}

// Name returns the lock's name.
func (l *Lock) Name() string { return l.h.name }

// Token returns the lock's fencing token.
func (l *Lock) Token() uint64 { return uint64(l.h.token) }

// Context is cancelled when the lock is lost or released; its cause says
// which.
func (l *Lock) Context() context.Context { return l.h.ctx }

// Unlock releases the lock. A lock already released or lost: ErrNotHeld.
func (l *Lock) Unlock(ctx context.Context) error { return l.h.release(ctx) }

// Put is a Put fenced by l.
func (l *Lock) Put(ctx context.Context, key string, value []byte) (int64, error) {
	return l.h.s.Put(ctx, key, value, FencedBy(l))
}

// Delete is a Delete fenced by l.
func (l *Lock) Delete(ctx context.Context, key string) (int64, error) {
	return l.h.s.Delete(ctx, key, FencedBy(l))
}
