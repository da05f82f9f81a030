package control

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
)

// A CallBackend is a Backend that also calls the methods of the app's
// components (/v2/call).
type CallBackend interface {
	Backend
	// Call invokes method of the component at path (a Component, or one
	// of its replicas) with args, the JSON arguments, on a ready replica,
	// and returns its results; a method that returns an error is a
	// CallResult with Error set, not an error. An *api.Error in the
	// error's chain sets the code of the answer.
	Call(ctx context.Context, path, method string, args []byte) (*api.CallResult, error)
}

// How long POST /v2/call lets a call run: the query parameter timeout (a
// duration, at most MaxCallTimeout), else DefaultCallTimeout.
const (
	DefaultCallTimeout = 30 * time.Second
	MaxCallTimeout     = 10 * time.Minute
)

// maxCallBody bounds the arguments of a call.
const maxCallBody = 16 << 20

// call serves POST /v2/call/<path>?method=M[&timeout=D].
func (s *Server) call(w http.ResponseWriter, r *http.Request, b Backend) {
	path, err := resourcePath(r, "/v2/call")
	if err != nil {
		writeError(w, err)
		return
	}
	cb, ok := b.(CallBackend)
	if !ok {
		writeError(w, api.Errorf(api.CodeNotFound, "%s: this supervisor calls no methods", path))
		return
	}
	q := r.URL.Query()
	method := q.Get("method")
	if method == "" {
		writeError(w, api.Errorf(api.CodeBadRequest, "call %s: no method given (method=M)", path))
		return
	}
	timeout := DefaultCallTimeout
	if v := q.Get("timeout"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			writeError(w, api.Errorf(api.CodeBadRequest, "timeout=%q: want a positive duration", v))
			return
		}
		timeout = min(d, MaxCallTimeout)
	}
	if _, ok := s.feed.get(path); !ok {
		writeError(w, api.Errorf(api.CodeNotFound, "no resource at %s", path))
		return
	}
	args, err := io.ReadAll(io.LimitReader(r.Body, maxCallBody+1))
	if err != nil {
		writeError(w, api.Errorf(api.CodeBadRequest, "call %s: read the arguments: %w", path, err))
		return
	}
	if len(args) > maxCallBody {
		writeError(w, api.Errorf(api.CodeBadRequest, "call %s: the arguments are over %d bytes", path, maxCallBody))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	res, err := cb.Call(ctx, path, method, args)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// Call invokes method of the component at path (/apps/<app>/components/<c>,
// or one of its replicas) with args, its JSON arguments (an object by
// parameter name, an array in order, or empty for none), and returns the
// results. The method's own error is the result's Error, not an error; an
// unknown method or arguments that do not decode are errors matching
// api.ErrBadRequest, a component without a ready replica one matching
// api.ErrUnavailable. The call may run until ctx's deadline, else for
// DefaultCallTimeout.
func (c *Client) Call(ctx context.Context, path, method string, args []byte) (*api.CallResult, error) {
	q := url.Values{"method": {method}}
	if dl, ok := ctx.Deadline(); ok {
		// A little less than is left, so that the supervisor's answer
		// that the call ran out of time arrives in time.
		left := time.Until(dl)
		q.Set("timeout", max(left-min(left/10, time.Second), time.Millisecond).Round(time.Millisecond).String())
	}
	if args == nil {
		args = []byte{}
	}
	var res api.CallResult
	if err := c.callBody(ctx, http.MethodPost, "/v2/call", path, q, args, &res); err != nil {
		return nil, err
	}
	// The answer is indented, its Result with it: give it back as the
	// replica wrote it, whatever the layout.
	var b bytes.Buffer
	if err := json.Compact(&b, res.Result); err != nil {
		return nil, api.Errorf(api.CodeInternal, "control: /v2/call %s: the result: %w", path, err)
	}
	res.Result = b.Bytes()
	return &res, nil
}
