package coord

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pilotage/pilotage/coord/internal/backend"
)

// A LockState describes a lock for operators.
type LockState struct {
	Name    string
	Holder  string // replica and pid of the holder, "" if free
	Token   uint64
	Expires time.Time // when the holder's lease ends unless renewed
	Waiters int
}

// A queueState is the keys of one lock or election, oldest first.
type queueState struct {
	name string
	keys []backend.KeyValue
}

// queues reads every lock or election under dir, sorted by name.
func (s *Store) queues(ctx context.Context, what, dir string) ([]queueState, error) {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	kvs, _, err := s.b.Get(ctx, backend.Op{Kind: backend.OpGet, Key: dir, Prefix: true, SortByCreate: true})
	if err != nil {
		return nil, s.fail(ctx, what, err)
	}
	index := map[string]int{}
	var qs []queueState
	for _, kv := range kvs {
		name, _, ok := strings.Cut(strings.TrimPrefix(kv.Key, dir), "/")
		if !ok {
			continue // not a key of ours
		}
		i, seen := index[name]
		if !seen {
			i = len(qs)
			index[name] = i
			qs = append(qs, queueState{name: name})
		}
		qs[i].keys = append(qs[i].keys, kv)
	}
	slices.SortFunc(qs, func(a, b queueState) int { return strings.Compare(a.name, b.name) })
	return qs, nil
}

// leaseTTL is what backends that know the remaining time to live of a
// lease (etcd) implement.
type leaseTTL interface {
	TimeToLive(ctx context.Context, id backend.LeaseID) (time.Duration, error)
}

// Locks lists the locks held or waited for.
func (s *Store) Locks(ctx context.Context) ([]LockState, error) {
	qs, err := s.queues(ctx, "locks", s.key("locks/"))
	if err != nil {
		return nil, err
	}
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	ttl, knowsTTL := s.b.(leaseTTL)
	expires := map[backend.LeaseID]time.Time{} // one request per session, not per lock
	states := make([]LockState, len(qs))
	for i, q := range qs {
		holder := q.keys[0]
		_, info := leaderOf(holder)
		states[i] = LockState{Name: q.name, Holder: info.String(), Token: uint64(holder.CreateRevision), Waiters: len(q.keys) - 1}
		if !knowsTTL || holder.Lease == 0 {
			continue
		}
		at, seen := expires[holder.Lease]
		if !seen {
			if left, err := ttl.TimeToLive(ctx, holder.Lease); err == nil {
				at = time.Now().Add(left)
			}
			expires[holder.Lease] = at
		}
		states[i].Expires = at
	}
	return states, nil
}

// An ElectionState describes an election for operators.
type ElectionState struct {
	Name       string
	Leader     Leader
	Holder     string // replica and pid of the leader
	Candidates int
}

// Elections lists the elections with candidates.
func (s *Store) Elections(ctx context.Context) ([]ElectionState, error) {
	qs, err := s.queues(ctx, "elections", s.key("elections/"))
	if err != nil {
		return nil, err
	}
	states := make([]ElectionState, len(qs))
	for i, q := range qs {
		leader, info := leaderOf(q.keys[0])
		states[i] = ElectionState{Name: q.name, Leader: leader, Holder: info.String(), Candidates: len(q.keys)}
	}
	return states, nil
}

// ForceUnlock takes the lock name from its holder: the holder's context is
// cancelled and its fenced writes fail; the next waiter gets a larger
// token. It reports whether it took the lock from someone: false if
// nobody held it, or its holder released it meanwhile.
func (s *Store) ForceUnlock(ctx context.Context, name string) (bool, error) {
	if err := checkName("lock", name); err != nil {
		return false, fmt.Errorf("coord: force unlock: %w", err)
	}
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	dir := s.lockDir(name)
	for {
		kvs, _, err := s.b.Get(ctx, backend.Op{Kind: backend.OpGet, Key: dir, Prefix: true, SortByCreate: true, Limit: 1})
		if err != nil {
			return false, s.fail(ctx, "force unlock "+name, err)
		}
		if len(kvs) == 0 {
			return false, nil
		}
		res, err := s.b.Txn(ctx, backend.Txn{
			If:   []backend.Cmp{{Key: kvs[0].Key, Field: backend.CreateRevision, Revision: kvs[0].CreateRevision}},
			Then: []backend.Op{{Kind: backend.OpDelete, Key: kvs[0].Key}},
		})
		if err != nil {
			return false, s.fail(ctx, "force unlock "+name, err)
		}
		// Not succeeded: released meanwhile, by its holder; the lock
		// taken since (if any) is someone else's.
		return res.Succeeded, nil
	}
}

// RevokeReplica revokes the sessions of process pid of replica (every
// session of replica if pid is 0), as a deployer does when that process
// dies, and returns how many it revoked.
func (s *Store) RevokeReplica(ctx context.Context, replica string, pid int) (int, error) {
	switch {
	case replica == "":
		return 0, fmt.Errorf("coord: revoke replica: %w", invalid("replica", "is empty"))
	case pid < 0:
		return 0, fmt.Errorf("coord: revoke replica %s: %w", replica, invalid("pid", strconv.Itoa(pid)+" is negative"))
	}
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	dir := s.sessionsDir(replica, pid)
	kvs, _, err := s.b.Get(ctx, backend.Op{Kind: backend.OpGet, Key: dir, Prefix: true})
	if err != nil {
		return 0, s.fail(ctx, "revoke replica "+replica, err)
	}
	n := 0
	var errs []error
	for _, kv := range kvs {
		rest := strings.TrimPrefix(kv.Key, dir)
		id, ok := parseLeaseHex(rest[strings.LastIndexByte(rest, '/')+1:])
		if !ok {
			continue
		}
		switch err := s.b.Revoke(ctx, id); {
		case err == nil:
			n++
		case errors.Is(err, backend.ErrLeaseNotFound):
		default:
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return n, s.fail(ctx, "revoke replica "+replica, errors.Join(errs...))
	}
	return n, nil
}

// Changes yields the revision of every change anywhere in the app's part
// of the store (locks, elections, sessions, config keys and their types)
// from revision from on (0: from now on), until ctx ends, or with
// ErrCompacted, ErrClosed or ErrUnavailable. It is for operator views that
// read the store again when it changes; a change does not say what it was.
func (s *Store) Changes(ctx context.Context, from int64) func(yield func(int64, error) bool) {
	return func(yield func(int64, error) bool) {
		wctx, cancel := s.callContext(ctx)
		defer cancel()
		for resp := range s.b.Watch(wctx, s.prefix, true, from) {
			if resp.Err != nil {
				if ctx.Err() == nil {
					yield(0, s.fail(wctx, "watch the store", resp.Err))
				}
				return
			}
			if n := len(resp.Events); n > 0 && !yield(resp.Events[n-1].KV.ModRevision, nil) {
				return
			}
		}
		switch {
		case ctx.Err() != nil:
		case errors.Is(context.Cause(wctx), ErrClosed):
			yield(0, fmt.Errorf("coord: watch the store: %w", ErrClosed))
		default:
			yield(0, fmt.Errorf("coord: watch the store: the store ended it: %w", ErrUnavailable))
		}
	}
}

// TypedKeys returns the config keys that have a type registered (see
// Config), sorted.
func (s *Store) TypedKeys(ctx context.Context) ([]string, error) {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	dir := s.schemaKey("")
	kvs, _, err := s.b.Get(ctx, backend.Op{Kind: backend.OpGet, Key: dir, Prefix: true})
	if err != nil {
		return nil, s.fail(ctx, "list typed keys", err)
	}
	keys := make([]string, len(kvs))
	for i, kv := range kvs {
		keys[i] = strings.TrimPrefix(kv.Key, dir)
	}
	return keys, nil
}
