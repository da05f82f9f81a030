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
	return listCoord[api.LockStatus](ctx, c, api.Locks)
}

// Leaders returns the elections of the app's coordination store that
// have candidates, by name.
func (c *Client) Leaders(ctx context.Context) ([]api.LeaderStatus, error) {
	out, _, err := listCoord[api.LeaderStatus](ctx, c, api.Leaders)
	return out, err
}

// ConfigKeys returns the keys of the app's config store that start with
// prefix, sorted.
func (c *Client) ConfigKeys(ctx context.Context, prefix string) ([]api.ConfigKeyStatus, error) {
	all, _, err := listCoord[api.ConfigKeyStatus](ctx, c, api.Config)
	out := []api.ConfigKeyStatus{}
	for _, st := range all {
		if strings.HasPrefix(st.Key, prefix) {
			out = append(out, st)
		}
	}
	return out, err
}

// listCoord returns the statuses of the resources of collection of the
// app, in path order, and the supervisor's clock.
func listCoord[T any](ctx context.Context, c *Client, collection string) ([]T, time.Time, error) {
	out := []T{}
	app, err := c.App(ctx)
	if err != nil {
		return out, time.Time{}, err
	}
	l, err := c.List(ctx, api.Join(api.Apps, app, collection), false)
	if errors.Is(err, api.ErrNotFound) {
		return out, time.Time{}, api.Errorf(api.CodeNotFound, "the supervisor of %s shows no %s: it is of an earlier release", app, collection)
	}
	if err != nil {
		return out, time.Time{}, err
	}
	for i := range l.Items {
		var st T
		if err := l.Items[i].DecodeStatus(&st); err != nil {
			return out, time.Time{}, err
		}
		out = append(out, st)
	}
	return out, l.Now, nil
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
