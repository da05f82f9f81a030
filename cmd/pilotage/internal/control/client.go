package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/state"
)

// Client talks to the supervisor whose state directory it was dialed with.
// Its errors carry the API's codes: errors.Is(err, api.ErrNotFound) and so
// on.
type Client struct {
	dir  string
	http *http.Client
}

// Dial returns a client of the supervisor of state directory dir. It does
// not connect until the first call.
func Dial(dir string) *Client {
	sock := filepath.Join(dir, SocketName)
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		DisableCompression: true,
	}
	return &Client{dir: dir, http: &http.Client{Transport: tr}}
}

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Get returns the resource at path.
func (c *Client) Get(ctx context.Context, path string) (*api.Resource, error) {
	var r api.Resource
	if err := c.call(ctx, http.MethodGet, "/v2/get", path, nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// List returns the children of the resource at path or, recursive, every
// resource below it.
func (c *Client) List(ctx context.Context, path string, recursive bool) (*api.List, error) {
	q := url.Values{}
	if recursive {
		q.Set("recursive", "true")
	}
	var l api.List
	if err := c.call(ctx, http.MethodGet, "/v2/list", path, q, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// WatchOptions say what a watch covers and where it starts.
type WatchOptions struct {
	// Recursive covers everything below the path, not only it and its
	// children.
	Recursive bool
	// ResourceVersion, if not zero, starts the watch after that version
	// (of a List, or of the last event received). Zero starts it with
	// ADDED events for what is there now, each carrying the version of
	// that look, then a BOOKMARK of it.
	ResourceVersion uint64
}

// Watch starts a watch of the resource at path and its children. It fails
// with an error matching api.ErrExpired if opts.ResourceVersion is older
// than the supervisor remembers.
func (c *Client) Watch(ctx context.Context, path string, opts WatchOptions) (*Watch, error) {
	q := url.Values{}
	if opts.Recursive {
		q.Set("recursive", "true")
	}
	if opts.ResourceVersion != 0 {
		q.Set("resource_version", strconv.FormatUint(opts.ResourceVersion, 10))
	}
	resp, err := c.open(ctx, http.MethodGet, "/v2/watch", path, q)
	if err != nil {
		return nil, err
	}
	return &Watch{body: resp.Body, dec: json.NewDecoder(bufio.NewReader(resp.Body))}, nil
}

// A Watch is a stream of events.
type Watch struct {
	body io.ReadCloser
	dec  *json.Decoder
}

// Next returns the next event. An ERROR event is returned as its error
// (matching api.ErrExpired when the watch fell behind); the end of the
// stream (the supervisor stopped, the context ended) as an error too.
func (w *Watch) Next() (api.Event, error) {
	var ev api.Event
	if err := w.dec.Decode(&ev); err != nil {
		if errors.Is(err, io.EOF) {
			return ev, api.Errorf(api.CodeUnavailable, "control: watch: the supervisor ended the stream")
		}
		return ev, api.Errorf(api.CodeUnavailable, "control: watch: %w", err)
	}
	if ev.Type == api.ErrorEvent {
		if ev.Error == nil {
			return ev, api.Errorf(api.CodeInternal, "control: watch: error event without an error")
		}
		return ev, ev.Error
	}
	return ev, nil
}

// Close ends the watch.
func (w *Watch) Close() error { return w.body.Close() }

// Act performs action on the resource at path and returns its result once
// it settled. The supervisor waits for that until a little before ctx's
// deadline (or DefaultActionWait), so that its answer, settled or not,
// arrives in time.
func (c *Client) Act(ctx context.Context, path, action string) (*api.ActionResult, error) {
	q := url.Values{"action": {action}}
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		wait := left - max(left/10, 2*time.Second)
		if wait < 100*time.Millisecond {
			wait = max(left/2, time.Millisecond)
		}
		q.Set("wait", wait.Round(time.Millisecond).String())
	}
	var r api.ActionResult
	if err := c.call(ctx, http.MethodPost, "/v2/act", path, q, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Logs calls emit with the log lines of the processes under path that q
// selects; with q.Follow, until ctx is done (then it returns nil). It
// returns emit's first error.
func (c *Client) Logs(ctx context.Context, path string, q LogQuery, emit func(api.LogLine) error) error {
	v := url.Values{}
	if q.Tail > 0 {
		v.Set("tail", strconv.Itoa(q.Tail))
	}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.Format(time.RFC3339Nano))
	}
	if q.Follow {
		v.Set("follow", "true")
	}
	v["source"] = q.Sources
	resp, err := c.open(ctx, http.MethodGet, "/v2/logs", path, v)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(bufio.NewReader(resp.Body))
	for {
		var l api.LogLine
		if err := dec.Decode(&l); err != nil {
			switch {
			case errors.Is(err, io.EOF):
				return nil
			case ctx.Err() != nil && q.Follow:
				return nil
			}
			return api.Errorf(api.CodeUnavailable, "control: logs: %w", err)
		}
		if l.Error != nil {
			return l.Error
		}
		if err := emit(l); err != nil {
			return err
		}
	}
}

// call makes a request of route for path and decodes its answer into out.
func (c *Client) call(ctx context.Context, method, route, path string, q url.Values, out any) error {
	return c.callBody(ctx, method, route, path, q, nil, out)
}

// callBody is call with a request body (none if nil).
func (c *Client) callBody(ctx context.Context, method, route, path string, q url.Values, reqBody []byte, out any) error {
	resp, err := c.openBody(ctx, method, route, path, q, reqBody)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return api.Errorf(api.CodeUnavailable, "control: %s %s: %w", route, path, err)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return api.Errorf(api.CodeInternal, "control: %s %s: decode: %w", route, path, err)
	}
	return nil
}

// open makes a request of route for path and returns the response if it
// is 200, else the error it carries.
func (c *Client) open(ctx context.Context, method, route, path string, q url.Values) (*http.Response, error) {
	return c.openBody(ctx, method, route, path, q, nil)
}

// openBody is open with a request body (none if nil).
func (c *Client) openBody(ctx context.Context, method, route, path string, q url.Values, reqBody []byte) (*http.Response, error) {
	clean, err := api.Clean(path)
	if err != nil {
		return nil, err
	}
	u := &url.URL{Scheme: "http", Host: "pilotage", Path: route + unescaped(clean), RawPath: route + clean, RawQuery: q.Encode()}
	var rd io.Reader
	if reqBody != nil {
		rd = bytes.NewReader(reqBody)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.dialError(err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var e api.ErrorBody
	if json.Unmarshal(body, &e) == nil && e.Error != nil && e.Error.Code != "" {
		return nil, e.Error
	}
	if resp.StatusCode == http.StatusNotFound {
		// A route unknown to a supervisor of an earlier release, which
		// answers it in plain text: unavailable, so that callers with
		// another way (the log files) take it.
		return nil, api.Errorf(api.CodeUnavailable, "control: %s %s: the supervisor of this app speaks an older control API: restart the app with this pilotage command", route, clean)
	}
	return nil, api.NewError(api.CodeForStatus(resp.StatusCode), fmt.Sprintf("control: %s %s: %s", route, clean, resp.Status))
}

// unescaped returns the clean path p with its elements decoded, for
// url.URL.Path (RawPath keeps them encoded on the wire).
func unescaped(p string) string {
	u, err := url.PathUnescape(p)
	if err != nil {
		return p
	}
	return u
}

// dialError explains a failure to reach the supervisor.
func (c *Client) dialError(err error) error {
	var ne *net.OpError
	if !errors.As(err, &ne) {
		return api.Errorf(api.CodeUnavailable, "control: %w", err)
	}
	sock := filepath.Join(c.dir, SocketName)
	if errors.Is(ne.Err, fs.ErrPermission) {
		return api.Wrap(api.CodeUnavailable, fmt.Sprintf("control: cannot reach the supervisor at %s: permission denied: %s", sock, state.WhyDenied(sock, c.dir)), ne.Err)
	}
	return api.Errorf(api.CodeUnavailable, "control: cannot reach the supervisor at %s: %w", sock, ne.Err)
}
