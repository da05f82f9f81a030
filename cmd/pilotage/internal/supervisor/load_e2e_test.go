package supervisor

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
)

// These tests run internal/testapp/loadapp, a real pilotage application
// (HTTP front -> Front -> Calc), as processes, and load it over HTTP through
// the supervisor's listener proxy.

// buildLoadApp builds loadapp once per test binary.
var buildLoadApp = sync.OnceValues(func() (string, error) {
	dir, err := filepath.Abs("../../../../internal/testapp/loadapp")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "..", "..", "..", ".cache", "loadapp") // ignored by git
	if out, err := exec.Command("go", "build", "-o", bin, dir).CombinedOutput(); err != nil {
		return "", fmt.Errorf("build loadapp: %v\n%s", err, out)
	}
	return bin, nil
})

func startLoadApp(t *testing.T, cfg string) (*harness, string) {
	t.Helper()
	return startLoadAppWith(t, cfg, nil)
}

// startLoadAppWith is startLoadApp with options adjusted by set.
func startLoadAppWith(t *testing.T, cfg string, set func(*Options)) (*harness, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs a real application")
	}
	bin, err := buildLoadApp()
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{App: "loadapp", Binary: bin, Config: mustConfig(cfg)}
	if set != nil {
		set(&opts)
	}
	h := launch(t, opts)
	h.waitReady()
	return h, "http://" + h.status().Proxies[0].Address
}

// get fetches url and returns the status and body; a transport error is a failure too.
func get(client *http.Client, url string) (int, string) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// load sends GET url from n goroutines until stop is closed, and returns
// how many calls were made and the failures.
func load(url string, n int, stop <-chan struct{}) (calls int, failures []string) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			client := &http.Client{Timeout: 5 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, body := get(client, url)
				mu.Lock()
				calls++
				if code != http.StatusOK {
					failures = append(failures, fmt.Sprintf("%d %s", code, body))
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return calls, failures
}

// A loadResult is what a background load did.
type loadResult struct {
	calls    int
	failures []string
}

// startLoad runs load in the background; the returned function stops it
// and returns what it did.
func startLoad(url string, n int) (stop func() loadResult) {
	quit := make(chan struct{})
	done := make(chan loadResult)
	go func() {
		c, f := load(url, n, quit)
		done <- loadResult{c, f}
	}()
	return func() loadResult {
		close(quit)
		return <-done
	}
}

// check fails t if the load made fewer than min calls, or any failed.
func (r loadResult) check(t *testing.T, min int, across string) {
	t.Helper()
	if r.calls < min {
		t.Errorf("only %d calls made; the load did not run", r.calls)
	}
	if len(r.failures) != 0 {
		t.Errorf("%d of %d calls failed across %s; first: %s", len(r.failures), r.calls, across, r.failures[0])
	}
	t.Logf("%d calls across %s, %d failed", r.calls, across, len(r.failures))
}

// A replica killed with SIGKILL during a steady load of idempotent calls is
// restarted, and its callers' calls are retried on the other replica: no
// call fails.
func TestKillReplicaUnderLoad(t *testing.T) {
	t.Parallel()
	h, base := startLoadApp(t, "[run.components.\"pilotage.Main\"]\nreplicas = 1\n")
	stopLoad := startLoad(base+"/half?n=42", 8)
	time.Sleep(300 * time.Millisecond)
	victim := h.unit("testapp.Calc").Replicas[0].PID
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	h.eventually("the killed replica to be replaced", func() bool {
		u := h.unit("testapp.Calc")
		r := u.Replicas[0]
		return r.State == control.Ready && r.PID != victim && r.PID != 0
	})
	time.Sleep(300 * time.Millisecond) // load the replacement too
	stopLoad().check(t, 50, "the kill")
	if u := h.unit("testapp.Calc"); u.Restarts != 1 {
		t.Errorf("restarts = %d, want 1", u.Restarts)
	}
}

// A non-idempotent call whose replica dies is not retried: its caller sees
// pilotage.ErrInterrupted. With one Calc replica, a retry would reach the
// replacement (it is ready long before the 1.5s call would end) and succeed.
func TestKillReplicaNonIdempotentNotRetried(t *testing.T) {
	t.Parallel()
	h, base := startLoadApp(t, "[run.components.\"pilotage.Main\"]\nreplicas = 1\n[run.components.\"testapp.Calc\"]\nreplicas = 1\n")
	victim := h.unit("testapp.Calc").Replicas[0].PID
	type reply struct {
		code int
		body string
	}
	replies := make(chan reply, 4)
	for range 4 {
		go func() {
			code, body := get(&http.Client{Timeout: 10 * time.Second}, base+"/sleep?ms=1500")
			replies <- reply{code, body}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if r := <-replies; r.code != http.StatusBadGateway || !strings.Contains(r.body, "interrupted") {
			t.Errorf("call on the killed replica: %d %s; want 502 interrupted (no retry)", r.code, r.body)
		}
	}
}

// Stopping one component during load fails calls to it at once with
// ErrUnavailable, leaves calls that do not need it untouched, and they
// recover by themselves when it is started again.
func TestStopComponentUnderLoad(t *testing.T) {
	t.Parallel()
	h, base := startLoadApp(t, "")
	stop := make(chan struct{})
	var calls int
	var failures []string
	loaded := make(chan struct{})
	go func() {
		defer close(loaded)
		calls, failures = load(base+"/pid", 4, stop) // Main -> Calc, never Front
	}()
	res, err := h.cl.Stop(t.Context(), "testapp.Front")
	if err != nil || res.State != control.Stopped {
		t.Fatalf("stop Front: %+v, %v", res, err)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	t0 := time.Now()
	code, body := get(client, base+"/half?n=4")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "unavailable") {
		t.Errorf("call to stopped Front: %d %s; want 503 unavailable", code, body)
	}
	if d := time.Since(t0); d > time.Second {
		t.Errorf("call to a stopped component took %v; want a prompt failure", d)
	}
	if res, err := h.cl.Start(t.Context(), "testapp.Front"); err != nil || res.State != control.Ready {
		t.Fatalf("start Front: %+v, %v", res, err)
	}
	h.eventually("calls to Front to work again", func() bool {
		code, _ := get(client, base+"/half?n=4")
		return code == http.StatusOK
	})
	close(stop)
	<-loaded
	if calls < 20 || len(failures) != 0 {
		t.Errorf("calls not involving Front: %d made, %d failed %v", calls, len(failures), failures)
	}
}

// A replica whose health check starts failing is replaced.
func TestUnhealthyReplicaReplaced(t *testing.T) {
	t.Parallel()
	h, base := startLoadApp(t, "")
	code, body := get(&http.Client{Timeout: 5 * time.Second}, base+"/sicken")
	if code != http.StatusOK {
		t.Fatalf("sicken: %d %s", code, body)
	}
	sick, _ := strconv.Atoi(body)
	h.eventually("the unhealthy replica to be replaced", func() bool {
		u := h.unit("testapp.Calc")
		for _, r := range u.Replicas {
			if r.PID == sick || r.State != control.Ready {
				return false
			}
		}
		return true
	})
	if !strings.Contains(h.output(), "unhealthy") {
		t.Errorf("the supervisor did not say why it restarted the replica:\n%s", h.output())
	}
}

// Stopping the main component lets the app function finish the requests in
// flight (its context is cancelled first) while the components it calls are
// still up.
func TestStopMainDrainsRequests(t *testing.T) {
	t.Parallel()
	h, _ := startLoadApp(t, "[run.components.\"pilotage.Main\"]\nreplicas = 1\n")
	replica := h.unit("pilotage.Main").Replicas[0]
	direct := "http://" + replica.Listeners["http"] + "/sleep?ms=700"
	type reply struct {
		code int
		body string
	}
	done := make(chan reply, 1)
	go func() {
		code, body := get(&http.Client{Timeout: 10 * time.Second}, direct)
		done <- reply{code, body}
	}()
	time.Sleep(200 * time.Millisecond)
	if res, err := h.cl.Stop(t.Context(), "pilotage.Main"); err != nil || res.State != control.Stopped {
		t.Fatalf("stop main: %+v, %v", res, err)
	}
	if r := <-done; r.code != http.StatusOK {
		t.Errorf("request in flight when main stopped: %d %s; want it to complete", r.code, r.body)
	}
}

// Back-to-back restarts of every component, the main one (behind the
// listener) included, under a steady load of idempotent calls fail none:
// restarts are rolling, one replica at a time.
func TestRestartUnderLoad(t *testing.T) {
	t.Parallel()
	h, base := startLoadApp(t, "")
	stopLoad := startLoad(base+"/half?n=42", 8)
	for range 2 {
		for _, c := range []string{"testapp.Calc", "testapp.Front", "pilotage.Main"} {
			res, err := h.cl.Restart(t.Context(), c)
			if err != nil || res.State != control.Ready {
				t.Fatalf("restart %s: %+v, %v", c, res, err)
			}
		}
	}
	stopLoad().check(t, 100, "6 restarts")
}

// A replica frozen with SIGSTOP is noticed: taken out of routing within
// about UnresponsiveAfter, its callers' calls in flight to it fail over to
// the other replica well within their 5s timeout (the transport's
// keepalive), and it is killed and replaced after KillUnresponsiveAfter.
// No call fails.
func TestFrozenReplicaUnderLoad(t *testing.T) {
	t.Parallel()
	h, base := startLoadAppWith(t, "", func(o *Options) { o.UnresponsiveAfter = time.Second })
	stopLoad := startLoad(base+"/half?n=42", 8)
	time.Sleep(300 * time.Millisecond)
	victim := h.unit("testapp.Calc").Replicas[0].PID
	if err := syscall.Kill(victim, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(victim, syscall.SIGCONT) }) // if the test ends before it is killed
	frozen := time.Now()
	h.eventually("the frozen replica to be out of routing", func() bool {
		return h.unit("testapp.Calc").Replicas[0].State == control.Unresponsive
	})
	if d := time.Since(frozen); d > 3*time.Second {
		t.Errorf("noticed after %v, want about 1s", d)
	}
	h.s.mu.Lock()
	r := h.s.routes()["github.com/pilotage/pilotage/internal/testapp.Calc"]
	h.s.mu.Unlock()
	if len(r) != 1 {
		t.Errorf("routes of Calc while frozen: %v, want one address", r)
	}
	waitFor(t, "the frozen replica to be replaced", func() bool {
		r := h.unit("testapp.Calc").Replicas[0]
		return r.State == control.Ready && r.PID != victim && r.PID != 0
	})
	time.Sleep(300 * time.Millisecond) // load the replacement too
	stopLoad().check(t, 100, "a 10s freeze")
}
