package coord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/pilotage/pilotage/coord/internal/backend"
)

// A session is one lease of a Store, renewed by the Store itself, and the
// locks and leaderships attached to it. It is lost, for good, when its
// lease is not renewed by its deadline or is found gone: ctx (the parent
// of every hold's context) is then cancelled, at the deadline at the
// latest, and the Store starts a new session for later calls.
//
// The deadline is computed on this process's monotonic clock from the
// time a renewal was sent, not answered: send time + granted TTL − margin
// is before the store itself can expire the lease, so a running holder
// learns of its loss before anyone else can be granted what it held. A
// paused one runs no timer: it learns when it resumes, maybe after a new
// grant, and only fencing keeps its writes out.
type session struct {
	s      *Store
	lease  backend.LeaseID
	key    string // its key under sessions/
	value  []byte // of its lock and election keys: who holds them
	ctx    context.Context
	cancel context.CancelCauseFunc

	mu       sync.Mutex
	deadline time.Time // monotonic
	timer    *time.Timer
}

// renewMargin is how long before the store's expiry of the lease the
// session counts itself lost.
func renewMargin(ttl time.Duration) time.Duration {
	return max(ttl/10, 50*time.Millisecond)
}

// retryDelay is how long to wait before retrying a failed request that
// keeps a session or a hold going.
func retryDelay(ttl time.Duration) time.Duration {
	return max(ttl/40, 10*time.Millisecond)
}

// holderInfo is the value of a lock or election key: who holds it.
type holderInfo struct {
	Value   *string `json:"value,omitempty"` // elections only
	Replica string  `json:"replica"`
	PID     int     `json:"pid"`
}

func (h holderInfo) String() string {
	if h.Replica == "" && h.PID == 0 {
		return "unknown"
	}
	return fmt.Sprintf("%s pid %d", h.Replica, h.PID)
}

// leaseHex is a lease id as it appears in keys: 16 hex digits.
func leaseHex(id backend.LeaseID) string { return fmt.Sprintf("%016x", uint64(id)) }

func parseLeaseHex(s string) (backend.LeaseID, bool) {
	if len(s) != 16 {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 16, 64)
	return backend.LeaseID(v), err == nil
}

// sessionsDir is where the sessions of a replica (and pid) are
// registered. The replica is escaped: a replica id may contain '/'.
func (s *Store) sessionsDir(replica string, pid int) string {
	dir := s.key("sessions/", url.PathEscape(replica), "/")
	if pid != 0 {
		dir += strconv.Itoa(pid) + "/"
	}
	return dir
}

// currentSession returns the Store's live session, starting one if there
// is none or the last one was lost.
func (s *Store) currentSession(ctx context.Context) (*session, error) {
	select {
	case s.sessionSem <- struct{}{}:
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	defer func() { <-s.sessionSem }()
	s.mu.Lock()
	closed, sess := s.closed, s.session
	s.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if sess != nil && sess.ctx.Err() == nil {
		return sess, nil
	}
	sess, err := s.newSession(ctx)
	for try := 1; try < 3 && errors.Is(err, errLeaseOutlived) && ctx.Err() == nil; try++ {
		// Paused (or slowed) past the new lease's life while registering
		// it: the store is there, try a fresh lease.
		sess, err = s.newSession(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("start a session: %w", err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errors.Join(ErrClosed, sess.end(ErrClosed))
	}
	s.session = sess
	s.mu.Unlock()
	return sess, nil
}

func (s *Store) newSession(ctx context.Context) (*session, error) {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	sent := time.Now()
	lease, err := s.b.Grant(ctx, s.ttl)
	if err != nil {
		return nil, fmt.Errorf("grant a lease: %w", callError(ctx, err))
	}
	value, err := json.Marshal(holderInfo{Replica: s.replica, PID: s.pid})
	if err != nil {
		return nil, fmt.Errorf("encode holder: %w", err)
	}
	ss := &session{
		s:        s,
		lease:    lease,
		key:      s.sessionsDir(s.replica, s.pid) + leaseHex(lease),
		value:    value,
		deadline: sent.Add(s.ttl - renewMargin(s.ttl)),
	}
	ss.ctx, ss.cancel = context.WithCancelCause(context.Background())
	_, err = s.b.Txn(ctx, backend.Txn{Then: []backend.Op{{Kind: backend.OpPut, Key: ss.key, Lease: lease}}})
	if errors.Is(err, backend.ErrLeaseNotFound) || err == nil && time.Now().After(ss.deadline) {
		err = errLeaseOutlived
	}
	if err != nil {
		ss.cancel(err)
		if errors.Is(err, errLeaseOutlived) {
			return nil, errors.Join(err, ss.revoke())
		}
		return nil, errors.Join(fmt.Errorf("register it: %w", callError(ctx, err)), ss.revoke())
	}
	ss.mu.Lock()
	ss.timer = time.AfterFunc(time.Until(ss.deadline), ss.checkDeadline)
	ss.mu.Unlock()
	go ss.renew()
	return ss, nil
}

// errLeaseOutlived is the error of a session start that took longer than
// the lease it was granted.
var errLeaseOutlived = errors.New("registering the session took longer than its lease")

// renew renews the lease every TTL/4, retrying a failed renewal quickly
// until the deadline.
func (ss *session) renew() {
	ttl := ss.s.ttl
	every, retry := ttl/4, retryDelay(ttl)
	wait := every
	for {
		select {
		case <-time.After(wait):
		case <-ss.ctx.Done():
			return
		}
		ss.mu.Lock()
		deadline := ss.deadline
		ss.mu.Unlock()
		sent := time.Now()
		ctx, cancel := context.WithDeadline(ss.ctx, deadline)
		granted, err := ss.s.b.KeepAliveOnce(ctx, ss.lease)
		cancel()
		switch {
		case err == nil:
			ss.extend(sent.Add(granted - renewMargin(granted)))
			wait = every
		case errors.Is(err, backend.ErrLeaseNotFound):
			ss.lose(fmt.Errorf("%w: session lease %s ended (expired or revoked)", ErrNotHeld, leaseHex(ss.lease)))
			return
		default:
			wait = retry
		}
	}
}

// extend moves the deadline to d if it is later.
func (ss *session) extend(d time.Time) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if d.After(ss.deadline) {
		ss.deadline = d
	}
}

// checkDeadline runs at the deadline: the session is lost unless a
// renewal moved it.
func (ss *session) checkDeadline() {
	ss.mu.Lock()
	left := time.Until(ss.deadline)
	if left > 0 {
		ss.timer.Reset(left)
		ss.mu.Unlock()
		return
	}
	ss.mu.Unlock()
	ss.lose(fmt.Errorf("%w: session lease %s not renewed by its deadline", ErrNotHeld, leaseHex(ss.lease)))
}

// lose cancels the session's holds with cause, then revokes the lease in
// the background so that others need not wait for the store to expire it
// (if that fails, the store expires it within its TTL: nothing to do).
func (ss *session) lose(cause error) {
	if ss.ctx.Err() != nil {
		return
	}
	ss.cancel(cause)
	ss.timer.Stop()
	go ss.revoke()
}

// end cancels the session's holds with cause and revokes its lease,
// which deletes every key of it.
func (ss *session) end(cause error) error {
	ss.cancel(cause)
	if ss.timer != nil {
		ss.timer.Stop()
	}
	return ss.revoke()
}

// revoke revokes the lease, bounded by its TTL (after which the store
// expires it anyway).
func (ss *session) revoke() error {
	ctx, cancel := context.WithTimeout(context.Background(), ss.s.ttl)
	defer cancel()
	err := ss.s.b.Revoke(ctx, ss.lease)
	if err != nil && !errors.Is(err, backend.ErrLeaseNotFound) {
		return fmt.Errorf("revoke session lease %s: %w", leaseHex(ss.lease), err)
	}
	return nil
}
