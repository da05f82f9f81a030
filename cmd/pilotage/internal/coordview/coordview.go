// Package coordview reads an app's coordination store as the control API
// shows it (package api): its locks, leaders and config keys, with the
// coordination library's own calls (package coord). The supervisor's
// control API serves what it reads for an app under "pilotage run", and
// the shell's tree of deployed apps (package deployfs) for one on
// Kubernetes: one reading, wherever the store is.
package coordview

import (
	"context"
	"slices"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/coord"
)

// State is what an app's coordination store holds, as the control API
// shows it.
type State struct {
	// Revision is the store's before the read: a watch from the next
	// one misses no change the read did not see.
	Revision int64
	Locks    []api.LockStatus   // held or waited for, by name
	Leaders  []api.LeaderStatus // elections with candidates, by name
	Keys     []api.ConfigKeyStatus
}

// Read reads the locks, elections and config keys of s.
func Read(ctx context.Context, s *coord.Store) (*State, error) {
	rev, err := s.Revision(ctx)
	if err != nil {
		return nil, err
	}
	locks, err := s.Locks(ctx)
	if err != nil {
		return nil, err
	}
	elections, err := s.Elections(ctx)
	if err != nil {
		return nil, err
	}
	entries, _, err := s.List(ctx, "")
	if err != nil {
		return nil, err
	}
	typed, err := s.TypedKeys(ctx)
	if err != nil {
		return nil, err
	}
	st := &State{Revision: rev}
	for _, l := range locks {
		st.Locks = append(st.Locks, LockStatus(l))
	}
	for _, e := range elections {
		st.Leaders = append(st.Leaders, api.LeaderStatus{Election: e.Name, Holder: e.Holder, Value: e.Leader.Value, Token: e.Leader.Token, Candidates: e.Candidates})
	}
	for _, e := range entries {
		st.Keys = append(st.Keys, api.ConfigKeyStatus{Key: e.Key, Revision: e.Revision, CreateRevision: e.CreateRevision, Size: len(e.Value), Typed: slices.Contains(typed, e.Key)})
	}
	return st, nil
}

// Value returns the config key key of s with its value; an error
// wrapping coord.ErrNotFound if there is none.
func Value(ctx context.Context, s *coord.Store, key string) (*api.ConfigValue, error) {
	e, err := s.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	typed, err := s.TypedKeys(ctx)
	if err != nil {
		return nil, err
	}
	cv := &api.ConfigValue{Key: key, Revision: e.Revision, CreateRevision: e.CreateRevision, Typed: slices.Contains(typed, key)}
	cv.SetValue(e.Value)
	return cv, nil
}

// LockStatus returns the status of lock l.
func LockStatus(l coord.LockState) api.LockStatus {
	return api.LockStatus{Name: l.Name, Holder: l.Holder, Token: l.Token, Waiters: l.Waiters, Expires: l.Expires}
}
