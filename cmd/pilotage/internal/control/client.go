package control

import (
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
	"time"
)

// Client talks to the supervisor whose state directory it was dialed with.
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

// Status returns the status of every component and unit.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var s Status
	if err := c.do(ctx, http.MethodGet, "/v1/status", &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Analyze returns the start and ready times of components and units.
func (c *Client) Analyze(ctx context.Context) ([]AnalyzeUnit, error) {
	var u []AnalyzeUnit
	if err := c.do(ctx, http.MethodGet, "/v1/analyze", &u); err != nil {
		return nil, err
	}
	return u, nil
}

// Stop stops every replica of the group hosting name (a component or unit).
func (c *Client) Stop(ctx context.Context, name string) (*ActionResult, error) {
	return c.act(ctx, "stop", name)
}

// Start starts a stopped or failed component or unit.
func (c *Client) Start(ctx context.Context, name string) (*ActionResult, error) {
	return c.act(ctx, "start", name)
}

// Restart stops then starts a component or unit.
func (c *Client) Restart(ctx context.Context, name string) (*ActionResult, error) {
	return c.act(ctx, "restart", name)
}

// act asks for op on name. The supervisor waits for it to settle until a
// little before ctx's deadline (or DefaultActionWait), so that its answer,
// settled or not, arrives in time.
func (c *Client) act(ctx context.Context, op, name string) (*ActionResult, error) {
	path := "/v1/units/" + url.PathEscape(name) + "/" + op
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		wait := left - max(left/10, 2*time.Second)
		if wait < 100*time.Millisecond {
			wait = max(left/2, time.Millisecond)
		}
		path += "?wait=" + url.QueryEscape(wait.Round(time.Millisecond).String())
	}
	var r ActionResult
	if err := c.do(ctx, http.MethodPost, path, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

func (c *Client) do(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, "http://pilotage"+path, nil)
	if err != nil {
		return fmt.Errorf("control: %w", err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ne *net.OpError
		if errors.As(err, &ne) {
			sock := filepath.Join(c.dir, SocketName)
			if errors.Is(ne.Err, fs.ErrPermission) {
				return &permissionError{msg: fmt.Sprintf("control: cannot reach the supervisor at %s: permission denied: %s", sock, whyDenied(sock, c.dir)), err: ne.Err}
			}
			return fmt.Errorf("control: cannot reach the supervisor at %s: %w", sock, ne.Err)
		}
		return fmt.Errorf("control: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("control: %s %s: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e errorBody
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("control: %s %s: %s", method, path, resp.Status)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("control: %s %s: decode: %w", method, path, err)
	}
	return nil
}
