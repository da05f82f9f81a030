// Package probe tells when a unit that is not a Go component (a database,
// an existing service) is ready: it accepts TCP connections, answers an
// HTTP GET with a 2xx or 3xx status, or a command exits with status 0.
package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/pilotage/pilotage/internal/config"
)

const (
	defaultInterval = 100 * time.Millisecond
	defaultTimeout  = 60 * time.Second

	tcpTimeout  = 1 * time.Second // per attempt
	httpTimeout = 5 * time.Second
	execTimeout = 10 * time.Second

	maxOutput = 200 // bytes of an exec probe's output kept in its error
)

// ErrNotReady is wrapped by the error of Wait when the probe never passed.
var ErrNotReady = errors.New("not ready")

// Check makes one attempt of p: the first of p.TCP, p.HTTP and p.Exec that
// is set. With no probe set it returns nil: the unit is ready once started.
// Errors read like "probe tcp 127.0.0.1:6390: connection refused".
func Check(ctx context.Context, p config.Probe) error {
	return CheckWith(ctx, p, Options{})
}

// Options say where a probe runs, and report its progress.
type Options struct {
	// Dir and Env are the working directory and environment of an exec
	// probe: the unit's. Empty Dir: the current one; nil Env: the current
	// process's.
	Dir string
	Env []string
	// OnFailure, if set, is called with the error of each failed attempt
	// that Wait follows with another.
	OnFailure func(error)
}

// CheckWith is Check with options.
func CheckWith(ctx context.Context, p config.Probe, o Options) error {
	switch {
	case p.TCP != "":
		return checkTCP(ctx, p.TCP)
	case p.HTTP != "":
		return checkHTTP(ctx, p.HTTP)
	case len(p.Exec) > 0:
		return checkExec(ctx, p.Exec, o)
	}
	return nil
}

// Wait checks p every p.Interval (default 100ms) until it passes, ctx is
// done or p.Timeout (default 60s) has passed since the first attempt. Its
// error then wraps ErrNotReady, the last failure of the probe and, if ctx
// ended the wait, ctx's error: "not ready after 2s: probe tcp
// 127.0.0.1:6390: connection refused".
func Wait(ctx context.Context, p config.Probe) error {
	return WaitWith(ctx, p, Options{})
}

// DefaultInterval and DefaultTimeout apply when a probe does not set
// interval or timeout.
const (
	DefaultInterval = defaultInterval
	DefaultTimeout  = defaultTimeout
)

// WaitWith is Wait with options. Each attempt is bounded by its kind's own
// limit (tcp 1s, http 5s, exec 10s) and by what is left of the timeout.
func WaitWith(ctx context.Context, p config.Probe, o Options) error {
	if p.TCP == "" && p.HTTP == "" && len(p.Exec) == 0 {
		return nil
	}
	interval := p.Interval.Duration
	if interval <= 0 {
		interval = defaultInterval
	}
	timeout := p.Timeout.Duration
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	start := time.Now()
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var last error
	for {
		err := CheckWith(tctx, p, o)
		if err == nil {
			return nil
		}
		// An attempt cut short by the deadline says less than the one before.
		deadline, _ := tctx.Deadline()
		over := tctx.Err() != nil || !time.Now().Before(deadline)
		if last == nil || !over {
			last = err
		}
		if !over {
			if o.OnFailure != nil {
				o.OnFailure(err)
			}
			select {
			case <-tick.C:
				continue
			case <-tctx.Done():
			}
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w (%w after %v): %w", ErrNotReady, context.Cause(ctx), round(time.Since(start)), last)
		}
		return fmt.Errorf("%w after %v: %w", ErrNotReady, timeout, last)
	}
}

func round(d time.Duration) time.Duration {
	if d > time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

// Error is the error of a failed Check.
type Error struct {
	Kind   string // "tcp", "http" or "exec"
	Target string // the address, URL or command line
	Reason string // why it failed, briefly
	Err    error  // the underlying error, if any
}

func (e *Error) Error() string {
	if e.Target == "" {
		return "probe " + e.Kind + ": " + e.Reason
	}
	return "probe " + e.Kind + " " + e.Target + ": " + e.Reason
}

func (e *Error) Unwrap() error { return e.Err }

func checkTCP(ctx context.Context, addr string) error {
	d := net.Dialer{Timeout: tcpTimeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return &Error{Kind: "tcp", Target: addr, Reason: reason(err), Err: err}
	}
	c.Close()
	return nil
}

// client does not follow redirects (a 3xx passes) nor keep connections to
// the probed service open between attempts.
var client = &http.Client{
	Transport: &http.Transport{
		Proxy:             nil,
		DisableKeepAlives: true,
	},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func checkHTTP(ctx context.Context, u string) error {
	fail := func(reason string, err error) error {
		return &Error{Kind: "http", Target: u, Reason: reason, Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, httpTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fail(reason(err), err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fail(reason(err), err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fail(resp.Status, nil)
	}
	return nil
}

func checkExec(ctx context.Context, argv []string, o Options) error {
	line := strings.Join(argv, " ")
	if argv[0] == "" {
		return &Error{Kind: "exec", Target: line, Reason: "empty command"}
	}
	ctx, cancel := context.WithTimeout(ctx, execTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = o.Dir, o.Env
	cmd.WaitDelay = time.Second // don't wait for children holding the output open
	out, err := cmd.CombinedOutput()
	if err == nil {
		return nil
	}
	r := reason(err)
	if ctx.Err() != nil {
		r = "timed out"
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			r = fmt.Sprintf("timed out after %v", execTimeout)
		}
	}
	if o := brief(out); o != "" {
		r += ": " + o
	}
	return &Error{Kind: "exec", Target: line, Reason: r, Err: err}
}

// brief returns out trimmed, on one line, cut to about maxOutput bytes.
func brief(out []byte) string {
	out = bytes.TrimSpace(out)
	cut := len(out) > maxOutput
	if cut {
		out = out[:maxOutput]
		for len(out) > 0 && out[len(out)-1]&0xC0 == 0x80 { // inside a UTF-8 sequence
			out = out[:len(out)-1]
		}
		if len(out) > 0 && out[len(out)-1] >= 0xC0 {
			out = out[:len(out)-1]
		}
	}
	s := strings.Join(strings.Fields(string(out)), " ")
	if cut {
		s += "…"
	}
	return s
}

// reason returns the innermost useful message of a dial, HTTP or exec
// error: "connection refused" rather than "dial tcp 127.0.0.1:6390:
// connect: connection refused".
func reason(err error) string {
	for {
		switch e := err.(type) {
		case *url.Error:
			err = e.Err
			continue
		case *net.OpError:
			err = e.Err
			continue
		case *os.SyscallError:
			err = e.Err
			continue
		case *exec.Error:
			err = e.Err
			continue
		case *os.PathError: // fork/exec
			err = e.Err
			continue
		case *net.DNSError:
			if e.IsNotFound {
				return "no such host " + e.Name
			}
		}
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			return "timed out"
		}
		return err.Error()
	}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
