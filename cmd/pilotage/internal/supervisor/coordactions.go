package supervisor

import (
	"context"
	"errors"
	"fmt"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/coordview"
	"github.com/pilotage/pilotage/coord"
)

var _ control.SwapValueBackend = (*Supervisor)(nil)

// coordAct performs action on the coordination store's resource at path
// (elems): release a lock. It returns once the tree shows the result.
func (s *Supervisor) coordAct(ctx context.Context, path string, elems []string, action string) (*api.ActionResult, error) {
	if len(elems) != 4 || elems[1] != s.plan.App || elems[2] != api.Locks || action != api.ActionRelease {
		return nil, api.Errorf(api.CodeBadRequest, "%s does not accept action %q", path, action)
	}
	v, err := s.view()
	if err != nil {
		return nil, err
	}
	name := elems[3]
	// Who holds it, to say whom it is taken from: read just before, so
	// that a holder changing in between is all but impossible (the
	// store's ForceUnlock does not say).
	locks, err := v.store.Locks(ctx)
	if err != nil {
		return nil, coordError(err)
	}
	var before *api.LockStatus
	for _, l := range locks {
		if l.Name == name {
			st := coordview.LockStatus(l)
			before = &st
		}
	}
	held, err := v.store.ForceUnlock(ctx, name)
	if err != nil {
		return nil, coordError(err)
	}
	v.refresh(ctx) // a failure is logged, and the view reads again later
	res := &api.ActionResult{Path: path, Action: action, Components: []string{}, Settled: true}
	switch {
	case !held:
		res.Message = fmt.Sprintf("lock %s: nobody held it", name)
	case before == nil:
		res.Message = fmt.Sprintf("lock %s: released from its holder", name)
	default:
		res.Lock = before
		res.Message = fmt.Sprintf("lock %s: released from %s (token %d): its lock context is cancelled and its fenced writes fail", name, before.Holder, before.Token)
		if before.Waiters > 0 {
			res.Message += fmt.Sprintf("; %d waiting, the next gets a larger token", before.Waiters)
		}
	}
	s.out.logf("unlock requested: %s", res.Message)
	return res, nil
}

// configKey returns the view and the key of the config key at path.
func (s *Supervisor) configKey(path string) (*coordView, string, error) {
	elems, ok := coordPath(path)
	if !ok || len(elems) != 4 || elems[2] != api.Config || elems[1] != s.plan.App {
		return nil, "", api.Errorf(api.CodeBadRequest, "%s is not the path of a config key of %s (%s)", path, s.plan.App, api.Join(api.Apps, s.plan.App, api.Config, "<key>"))
	}
	v, err := s.view()
	return v, elems[3], err
}

// Value returns the config key at path with its value (see
// control.ValueBackend).
func (s *Supervisor) Value(ctx context.Context, path string) (*api.ConfigValue, error) {
	v, key, err := s.configKey(path)
	if err != nil {
		return nil, err
	}
	cv, err := coordview.Value(ctx, v.store, key)
	if errors.Is(err, coord.ErrNotFound) {
		return nil, api.Wrap(api.CodeNotFound, fmt.Sprintf("no config key %q", key), err)
	}
	if err != nil {
		return nil, coordError(err)
	}
	return cv, nil
}

// PutValue sets the config key at path to value (see
// control.ValueBackend); the store refuses a value that does not decode
// into the key's registered type.
func (s *Supervisor) PutValue(ctx context.Context, path string, value []byte) (*api.ConfigValue, error) {
	return s.putValue(ctx, path, value, -1)
}

// SwapValue sets the config key at path to value if its revision is
// still revision (see control.SwapValueBackend).
func (s *Supervisor) SwapValue(ctx context.Context, path string, value []byte, revision int64) (*api.ConfigValue, error) {
	return s.putValue(ctx, path, value, revision)
}

// putValue is PutValue, or SwapValue unless revision is -1.
func (s *Supervisor) putValue(ctx context.Context, path string, value []byte, revision int64) (*api.ConfigValue, error) {
	v, key, err := s.configKey(path)
	if err != nil {
		return nil, err
	}
	var rev int64
	if revision < 0 {
		rev, err = v.store.Put(ctx, key, value)
	} else {
		rev, err = v.store.CompareAndSwap(ctx, key, value, revision)
	}
	if err != nil {
		return nil, coordError(err)
	}
	v.refresh(ctx) // as in coordAct
	typed, err := v.isTyped(ctx, key)
	if err != nil {
		return nil, api.Wrap(api.CodeUnavailable, err.Error(), err)
	}
	s.out.logf("config put requested: key %s set at revision %d", key, rev)
	cv := &api.ConfigValue{Key: key, Revision: rev, Typed: typed}
	cv.SetValue(value)
	return cv, nil
}

// DeleteValue deletes the config key at path (see control.ValueBackend).
func (s *Supervisor) DeleteValue(ctx context.Context, path string) (*api.ConfigValue, error) {
	v, key, err := s.configKey(path)
	if err != nil {
		return nil, err
	}
	_, err = v.store.Get(ctx, key)
	existed := err == nil
	if err != nil && !errors.Is(err, coord.ErrNotFound) {
		return nil, coordError(err)
	}
	rev, err := v.store.Delete(ctx, key)
	if err != nil {
		return nil, coordError(err)
	}
	v.refresh(ctx) // as in coordAct
	if existed {
		s.out.logf("config rm requested: key %s deleted at revision %d", key, rev)
	}
	return &api.ConfigValue{Key: key, Revision: rev, Deleted: existed}, nil
}
