package control

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
)

// Locks returns the locks held or waited for in the app's coordination
// store, by name, and the supervisor's clock when it answered (for the
// time left until they expire).
func (c *Client) Locks(ctx context.Context) ([]api.LockStatus, time.Time, error) {
	out := []api.LockStatus{}
	now, err := c.listCoord(ctx, api.Locks, func(r *api.Resource) error {
		var st api.LockStatus
		err := r.DecodeStatus(&st)
		out = append(out, st)
		return err
	})
	return out, now, err
}

// Leaders returns the elections of the app's coordination store that
// have candidates, by name.
func (c *Client) Leaders(ctx context.Context) ([]api.LeaderStatus, error) {
	out := []api.LeaderStatus{}
	_, err := c.listCoord(ctx, api.Leaders, func(r *api.Resource) error {
		var st api.LeaderStatus
		err := r.DecodeStatus(&st)
		out = append(out, st)
		return err
	})
	return out, err
}

// ConfigKeys returns the keys of the app's config store that start with
// prefix, sorted.
func (c *Client) ConfigKeys(ctx context.Context, prefix string) ([]api.ConfigKeyStatus, error) {
	out := []api.ConfigKeyStatus{}
	_, err := c.listCoord(ctx, api.Config, func(r *api.Resource) error {
		var st api.ConfigKeyStatus
		if err := r.DecodeStatus(&st); err != nil {
			return err
		}
		if strings.HasPrefix(st.Key, prefix) {
			out = append(out, st)
		}
		return nil
	})
	return out, err
}

// listCoord calls each with the resources of collection of the app, in
// path order, and returns the supervisor's clock.
func (c *Client) listCoord(ctx context.Context, collection string, each func(*api.Resource) error) (time.Time, error) {
	app, err := c.App(ctx)
	if err != nil {
		return time.Time{}, err
	}
	l, err := c.List(ctx, api.Join(api.Apps, app, collection), false)
	if errors.Is(err, api.ErrNotFound) {
		return time.Time{}, api.Errorf(api.CodeNotFound, "the supervisor of %s shows no %s: it is of an earlier release", app, collection)
	}
	if err != nil {
		return time.Time{}, err
	}
	for i := range l.Items {
		if err := each(&l.Items[i]); err != nil {
			return time.Time{}, err
		}
	}
	return l.Now, nil
}

// Unlock takes lock name from its holder (see api.ActionRelease). The
// result's Lock is the lock as it was held.
func (c *Client) Unlock(ctx context.Context, name string) (*api.ActionResult, error) {
	app, err := c.App(ctx)
	if err != nil {
		return nil, err
	}
	path, err := LockPath(app, name)
	if err != nil {
		return nil, err
	}
	res, err := c.Act(ctx, path, api.ActionRelease)
	if errors.Is(err, api.ErrNotFound) {
		return nil, api.Wrap(api.CodeNotFound, fmt.Sprintf("no lock %q is held or waited for in %s", name, app), err)
	}
	return res, err
}

// ConfigGet returns config key key of the app with its value.
func (c *Client) ConfigGet(ctx context.Context, key string) (*api.ConfigValue, error) {
	path, err := c.configPath(ctx, key)
	if err != nil {
		return nil, err
	}
	return c.Value(ctx, path)
}

// ConfigPut sets config key key of the app to value.
func (c *Client) ConfigPut(ctx context.Context, key string, value []byte) (*api.ConfigValue, error) {
	path, err := c.configPath(ctx, key)
	if err != nil {
		return nil, err
	}
	return c.PutValue(ctx, path, value)
}

// ConfigDelete deletes config key key of the app.
func (c *Client) ConfigDelete(ctx context.Context, key string) (*api.ConfigValue, error) {
	path, err := c.configPath(ctx, key)
	if err != nil {
		return nil, err
	}
	return c.DeleteValue(ctx, path)
}

func (c *Client) configPath(ctx context.Context, key string) (string, error) {
	if key == "" {
		return "", api.Errorf(api.CodeBadRequest, "config key is empty")
	}
	app, err := c.App(ctx)
	if err != nil {
		return "", err
	}
	return ConfigPath(app, key)
}
