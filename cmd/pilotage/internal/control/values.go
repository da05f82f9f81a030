package control

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
)

// A ValueBackend is a Backend that also serves the values of the config
// keys of the app's coordination store (/v2/value). The path is that of a
// ConfigKey, /apps/<app>/config/<key>, which need not exist yet for a
// put; an *api.Error in an error's chain sets the code of the answer.
type ValueBackend interface {
	Backend
	// Value returns the key of path with its value.
	Value(ctx context.Context, path string) (*api.ConfigValue, error)
	// PutValue sets the key of path to value, unless the store refuses
	// it (a value that does not decode into the key's registered type),
	// and returns the key as written. The tree shows it once PutValue
	// returned.
	PutValue(ctx context.Context, path string, value []byte) (*api.ConfigValue, error)
	// DeleteValue deletes the key of path (absent: not an error). The
	// tree no longer shows it once DeleteValue returned.
	DeleteValue(ctx context.Context, path string) (*api.ConfigValue, error)
}

// A SwapValueBackend is a ValueBackend that also compares and sets
// (PUT /v2/value?revision=N).
type SwapValueBackend interface {
	ValueBackend
	// SwapValue is PutValue if the key of path is still at revision (0:
	// the key must not exist), else an error of code CodeConflict.
	SwapValue(ctx context.Context, path string, value []byte, revision int64) (*api.ConfigValue, error)
}

// valueTimeout bounds a call of a ValueBackend.
const valueTimeout = 30 * time.Second

// value serves GET, PUT and DELETE /v2/value/<path>.
func (s *Server) value(w http.ResponseWriter, r *http.Request, b Backend) {
	path, err := resourcePath(r, "/v2/value")
	if err != nil {
		writeError(w, err)
		return
	}
	vb, ok := b.(ValueBackend)
	if !ok {
		writeError(w, api.Errorf(api.CodeNotFound, "%s: this supervisor keeps no config values", path))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), valueTimeout)
	defer cancel()
	var v *api.ConfigValue
	switch r.Method {
	case http.MethodGet:
		v, err = vb.Value(ctx, path)
	case http.MethodPut:
		body, rerr := io.ReadAll(io.LimitReader(r.Body, api.MaxValueBody))
		if rerr != nil {
			writeError(w, api.Errorf(api.CodeBadRequest, "put %s: read the value: %w", path, rerr))
			return
		}
		rev, ok, perr := revisionParam(r)
		switch {
		case perr != nil:
			writeError(w, perr)
			return
		case !ok:
			v, err = vb.PutValue(ctx, path, body)
		default:
			sb, swaps := vb.(SwapValueBackend)
			if !swaps {
				writeError(w, api.Errorf(api.CodeBadRequest, "put %s: this supervisor does not compare and set", path))
				return
			}
			v, err = sb.SwapValue(ctx, path, body, rev)
		}
	default:
		v, err = vb.DeleteValue(ctx, path)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// revisionParam returns the query parameter revision of a put, if set.
func revisionParam(r *http.Request) (rev int64, ok bool, err error) {
	v := r.URL.Query().Get("revision")
	if v == "" {
		return 0, false, nil
	}
	rev, err = strconv.ParseInt(v, 10, 64)
	if err != nil || rev < 0 {
		return 0, false, api.Errorf(api.CodeBadRequest, "revision=%q: want a revision (0: the key must not exist)", v)
	}
	return rev, true, nil
}

// Value returns the config key at path (/apps/<app>/config/<key>) with
// its value.
func (c *Client) Value(ctx context.Context, path string) (*api.ConfigValue, error) {
	var v api.ConfigValue
	if err := c.callBody(ctx, http.MethodGet, "/v2/value", path, nil, nil, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// PutValue sets the config key at path to value. A value the key's
// registered type refuses is an error matching api.ErrBadRequest, with
// the store's message.
func (c *Client) PutValue(ctx context.Context, path string, value []byte) (*api.ConfigValue, error) {
	if value == nil {
		value = []byte{}
	}
	var v api.ConfigValue
	if err := c.callBody(ctx, http.MethodPut, "/v2/value", path, nil, value, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// CompareAndSwapValue sets the config key at path to value if its
// revision is still revision (0: the key must not exist). A key found at
// another revision is an error matching api.ErrConflict; a value the
// key's registered type refuses, one matching api.ErrBadRequest.
func (c *Client) CompareAndSwapValue(ctx context.Context, path string, value []byte, revision int64) (*api.ConfigValue, error) {
	if value == nil {
		value = []byte{}
	}
	q := url.Values{"revision": {strconv.FormatInt(revision, 10)}}
	var v api.ConfigValue
	if err := c.callBody(ctx, http.MethodPut, "/v2/value", path, q, value, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// DeleteValue deletes the config key at path; ConfigValue.Deleted says
// whether it existed.
func (c *Client) DeleteValue(ctx context.Context, path string) (*api.ConfigValue, error) {
	var v api.ConfigValue
	if err := c.callBody(ctx, http.MethodDelete, "/v2/value", path, nil, nil, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// ConfigPath returns the path of config key key of app; an empty key is
// an error wrapping api.ErrBadRequest (its path would be the collection's).
func ConfigPath(app, key string) (string, error) {
	if key == "" {
		return "", api.Errorf(api.CodeBadRequest, "config key is empty")
	}
	return api.Join(api.Apps, app, api.Config, key), nil
}

// LockPath returns the path of lock name of app; an empty name is an
// error wrapping api.ErrBadRequest.
func LockPath(app, name string) (string, error) {
	if name == "" {
		return "", api.Errorf(api.CodeBadRequest, "lock name is empty")
	}
	return api.Join(api.Apps, app, api.Locks, name), nil
}
