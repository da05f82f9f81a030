package probe

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pilotage/pilotage/internal/config"
)

func dur(d time.Duration) config.Duration { return config.Duration{Duration: d} }

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestNoProbe(t *testing.T) {
	if err := Check(context.Background(), config.Probe{}); err != nil {
		t.Errorf("Check: %v", err)
	}
	if err := Wait(context.Background(), config.Probe{}); err != nil {
		t.Errorf("Wait: %v", err)
	}
}

func TestTCP(t *testing.T) {
	ctx := context.Background()
	addr := freeAddr(t)
	err := Check(ctx, config.Probe{TCP: addr})
	if want := "probe tcp " + addr + ": connection refused"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("err does not wrap ECONNREFUSED")
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := Check(ctx, config.Probe{TCP: addr}); err != nil {
		t.Errorf("listening: %v", err)
	}
}

func TestWaitTCPBecomesReady(t *testing.T) {
	addr := freeAddr(t)
	go func() {
		time.Sleep(150 * time.Millisecond)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return // the test then fails by timing out
		}
		t.Cleanup(func() { l.Close() })
	}()
	p := config.Probe{TCP: addr, Interval: dur(20 * time.Millisecond), Timeout: dur(3 * time.Second)}
	if err := Wait(context.Background(), p); err != nil {
		t.Fatal(err)
	}
}

func TestWaitTimeout(t *testing.T) {
	addr := freeAddr(t)
	p := config.Probe{TCP: addr, Interval: dur(20 * time.Millisecond), Timeout: dur(200 * time.Millisecond)}
	start := time.Now()
	err := Wait(context.Background(), p)
	if el := time.Since(start); el < 200*time.Millisecond || el > 2*time.Second {
		t.Errorf("Wait took %v", el)
	}
	if want := "not ready after 200ms: probe tcp " + addr + ": connection refused"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	if !errors.Is(err, ErrNotReady) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("err does not wrap ErrNotReady and the last failure")
	}
}

func TestWaitCanceled(t *testing.T) {
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	err := Wait(ctx, config.Probe{TCP: addr})
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrNotReady) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("err = %v, want the last failure", err)
	}
}

func TestHTTP(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			w.WriteHeader(http.StatusOK)
		case 2:
			http.Redirect(w, r, "/elsewhere-that-fails", http.StatusFound)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	p := config.Probe{HTTP: srv.URL + "/ready"}
	if err := Check(ctx, p); err != nil {
		t.Errorf("200: %v", err)
	}
	if err := Check(ctx, p); err != nil {
		t.Errorf("302: %v", err)
	}
	err := Check(ctx, p)
	if want := "probe http " + srv.URL + "/ready: 503 Service Unavailable"; err == nil || err.Error() != want {
		t.Errorf("503: err = %v, want %q", err, want)
	}

	p.Interval, p.Timeout = dur(10*time.Millisecond), dur(100*time.Millisecond)
	err = Wait(ctx, p)
	if want := "not ready after 100ms: probe http " + srv.URL + "/ready: 503 Service Unavailable"; err == nil || err.Error() != want {
		t.Errorf("Wait: err = %v, want %q", err, want)
	}

	addr := freeAddr(t)
	err = Check(ctx, config.Probe{HTTP: "http://" + addr + "/"})
	if want := "probe http http://" + addr + "/: connection refused"; err == nil || err.Error() != want {
		t.Errorf("refused: err = %v, want %q", err, want)
	}
}

func TestExec(t *testing.T) {
	ctx := context.Background()
	if err := Check(ctx, config.Probe{Exec: []string{"true"}}); err != nil {
		t.Errorf("true: %v", err)
	}
	err := Check(ctx, config.Probe{Exec: []string{"false"}})
	if want := "probe exec false: exit status 1"; err == nil || err.Error() != want {
		t.Errorf("false: err = %v, want %q", err, want)
	}
	err = Check(ctx, config.Probe{Exec: []string{"sh", "-c", "echo not yet; echo  really >&2; exit 3"}})
	if want := "probe exec sh -c echo not yet; echo  really >&2; exit 3: exit status 3: not yet really"; err == nil || err.Error() != want {
		t.Errorf("sh: err = %v, want %q", err, want)
	}
	err = Check(ctx, config.Probe{Exec: []string{"sh", "-c", "printf '%0500d' 0; exit 1"}})
	if err == nil || !strings.HasSuffix(err.Error(), ": exit status 1: "+strings.Repeat("0", 200)+"…") {
		t.Errorf("long output: err = %v", err)
	}
	err = Check(ctx, config.Probe{Exec: []string{"/nonexistent/ready-check"}})
	if want := "probe exec /nonexistent/ready-check: no such file or directory"; err == nil || err.Error() != want {
		t.Errorf("missing: err = %v, want %q", err, want)
	}
}

func TestWaitExec(t *testing.T) {
	// Passes from the third attempt on.
	dir := t.TempDir()
	script := "n=$(cat " + dir + "/n 2>/dev/null || echo 0); echo $((n+1)) > " + dir + "/n; [ $n -ge 2 ]"
	p := config.Probe{Exec: []string{"sh", "-c", script}, Interval: dur(10 * time.Millisecond), Timeout: dur(3 * time.Second)}
	if err := Wait(context.Background(), p); err != nil {
		t.Fatal(err)
	}
}

func TestBrief(t *testing.T) {
	s := brief([]byte("  " + strings.Repeat("é", 150) + "\n"))
	if !strings.HasSuffix(s, "é…") || len(s) > maxOutput+len("…") {
		t.Errorf("brief cut badly: %q", s)
	}
}

func TestExecDirEnv(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "marker"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	p := config.Probe{Exec: []string{"sh", "-c", `test -f marker && test "$PROBE_X" = 1`}}
	if err := Check(context.Background(), p); err == nil {
		t.Error("passed outside the unit's dir and env")
	}
	if err := CheckWith(context.Background(), p, Options{Dir: dir, Env: append(os.Environ(), "PROBE_X=1")}); err != nil {
		t.Errorf("in the unit's dir and env: %v", err)
	}
	var fails int
	p.Interval = config.Duration{Duration: 10 * time.Millisecond}
	p.Timeout = config.Duration{Duration: 100 * time.Millisecond}
	if err := WaitWith(context.Background(), p, Options{OnFailure: func(error) { fails++ }}); err == nil || fails == 0 {
		t.Errorf("WaitWith: %v, %d failures reported", err, fails)
	}
}
