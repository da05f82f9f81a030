package rpc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pilotage/pilotage/codegen"
)

// A logRecorder is a slog handler that keeps the messages it receives.
type logRecorder struct {
	mu   sync.Mutex
	logs []string
	got  chan struct{} // signalled on every record
}

func newLogRecorder() *logRecorder { return &logRecorder{got: make(chan struct{}, 16)} }

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }

func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Level.String() + " " + rec.Message)
	rec.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	r.mu.Lock()
	r.logs = append(r.logs, b.String())
	r.mu.Unlock()
	select {
	case r.got <- struct{}{}:
	default:
	}
	return nil
}

// waitFor waits up to 5s for a record containing all of want.
func (r *logRecorder) waitFor(t *testing.T, want ...string) string {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		r.mu.Lock()
		for _, l := range r.logs {
			if containsAll(l, want...) {
				r.mu.Unlock()
				return l
			}
		}
		logs := r.logs
		r.mu.Unlock()
		select {
		case <-r.got:
		case <-deadline:
			t.Fatalf("no log record containing %q within 5s; got %q", want, logs)
		}
	}
}

func containsAll(s string, want ...string) bool {
	for _, w := range want {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}

// A client of another deployment is refused at connect time, with an error
// naming both deployments that wraps ErrUnavailable (a Pool takes the
// address for unreachable); the server logs it naming both too, and
// dispatches nothing.
func TestDeploymentMismatchRefused(t *testing.T) {
	forNetworks(t, func(t *testing.T, network string) {
		rec := newLogRecorder()
		ts := startServer(t, network, ServerOptions{Deployment: "shop-b2", Logger: slog.New(rec)})
		_, err := Dial(context.Background(), ts.network, ts.addr, DialOptions{Deployment: "shop-a1"})
		want := "the server at " + ts.addr + " runs deployment shop-b2; this process runs shop-a1: calls never cross versions"
		if !errors.Is(err, codegen.ErrUnavailable) || !errors.Is(err, ErrDeploymentMismatch) || err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("Dial to another deployment returned %v, want ErrUnavailable and ErrDeploymentMismatch saying %q", err, want)
		}
		rec.waitFor(t, "WARN", "rpc: handshake failed", "runs deployment shop-a1; this server runs shop-b2: calls never cross versions")

		// The same build connects and calls.
		c := ts.dial(t, DialOptions{Deployment: "shop-b2"})
		if _, err := c.Call(context.Background(), testComponent, mEcho, encodeBytes([]byte("x"))); err != nil {
			t.Errorf("call within one deployment: %v", err)
		}
		if n := ts.calls.Load(); n != 1 {
			t.Errorf("the server ran %d calls, want 1 (none from the other deployment)", n)
		}
	})
}

// A client of another deployment that ignores the server's preface and
// sends a request at once gets the server's preface, then the connection
// closes (a reset, as the request is left unread): the request is never
// dispatched.
func TestDeploymentMismatchNeverDispatched(t *testing.T) {
	rec := newLogRecorder()
	ts := startServer(t, "unix", ServerOptions{Deployment: "shop-b2", Logger: slog.New(rec)})
	nc, err := net.Dial(ts.network, ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	req := frame(frameRequest, 1, requestPayload(testComponent, mEcho, 0, encodeBytes([]byte("x"))))
	if _, err := nc.Write(append(encodePreface(DefaultMaxFrameSize, "shop-a1"), req...)); err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(nc)
	if errors.Is(err, syscall.ECONNRESET) {
		err = nil
	}
	if want := encodePreface(DefaultMaxFrameSize, "shop-b2"); err != nil || !bytes.Equal(got, want) {
		t.Errorf("server sent %q, %v; want its preface %q, then the connection closed", got, err, want)
	}
	rec.waitFor(t, "runs deployment shop-a1; this server runs shop-b2")
	if n := ts.calls.Load(); n != 0 {
		t.Errorf("the server ran %d calls from another deployment", n)
	}
}

// A server of no deployment refuses a client of one, and the other way
// round, each error saying which side set none.
func TestDeploymentMismatchUnset(t *testing.T) {
	unset := startServer(t, "unix", ServerOptions{})
	_, err := Dial(context.Background(), "unix", unset.addr, DialOptions{Deployment: "shop-a1"})
	if !errors.Is(err, ErrDeploymentMismatch) || !strings.Contains(err.Error(), `runs deployment "" (none set); this process runs shop-a1`) {
		t.Errorf("Dial with a deployment to a server of none: %v", err)
	}
	set := startServer(t, "unix", ServerOptions{Deployment: "shop-b2"})
	_, err = Dial(context.Background(), "unix", set.addr, DialOptions{})
	if !errors.Is(err, ErrDeploymentMismatch) || !strings.Contains(err.Error(), `runs deployment shop-b2; this process runs "" (none set)`) {
		t.Errorf("Dial with no deployment to a server of one: %v", err)
	}
}

// A deployment id over MaxDeploymentLen bytes fails Dial and Serve at once;
// one of exactly MaxDeploymentLen bytes works.
func TestDeploymentTooLong(t *testing.T) {
	longest := strings.Repeat("d", MaxDeploymentLen)
	ts := startServer(t, "unix", ServerOptions{Deployment: longest})
	c := ts.dial(t, DialOptions{Deployment: longest})
	if _, err := c.Call(context.Background(), testComponent, mEcho, encodeBytes(nil)); err != nil {
		t.Errorf("call with a %d-byte deployment: %v", MaxDeploymentLen, err)
	}

	tooLong := longest + "d"
	_, err := Dial(context.Background(), "unix", ts.addr, DialOptions{Deployment: tooLong})
	if err == nil || !strings.Contains(err.Error(), "DialOptions.Deployment is 256 bytes, over the limit of 255") {
		t.Errorf("Dial with a 256-byte deployment: %v", err)
	}
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	err = NewServer(ServerOptions{Deployment: tooLong}).Serve(l)
	if err == nil || !strings.Contains(err.Error(), "ServerOptions.Deployment is 256 bytes, over the limit of 255") {
		t.Errorf("Serve with a 256-byte deployment: %v", err)
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Serve left its listener open: Accept returned %v", err)
	}
}
