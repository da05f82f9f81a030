package supervisor

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// resilienceConfig runs loadapp with three Calc replicas and a 300ms
// default deadline on Calc.PID (the method its /pid route calls, which
// Calc.Fault("slow") makes hang), so that a slow replica times out fast.
const resilienceConfig = `
[run.components."pilotage.Main"]
replicas = 1
[run.components."testapp.Calc"]
replicas = 3
[calls.components."testapp.Calc"]
methods = { PID = "300ms" }
`

// startResilienceApp starts loadapp with resilienceConfig, written to a
// file as the proclets read it.
func startResilienceApp(t *testing.T) (*harness, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pilotage.toml")
	if err := os.WriteFile(path, []byte(resilienceConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	return startLoadAppWith(t, resilienceConfig, func(o *Options) { o.ConfigPath = path })
}

// fault sets the fault switch of Calc replica i ("slow" or "") through the
// control API, which reaches that replica directly, ejected or not.
func (h *harness) fault(i int, mode string) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := h.cl.Call(ctx, "/apps/loadapp/components/testapp.Calc/replicas/"+strconv.Itoa(i), "Fault", []byte(`{"mode": "`+mode+`"}`))
	if err != nil || res.Error != "" {
		h.t.Fatalf("fault %d %q: %+v, %v", i, mode, res, err)
	}
}

// A pidLoad calls /pid from n goroutines and counts what it got.
type pidLoad struct {
	mu       sync.Mutex
	calls    int
	failures []string
	served   map[int]int // pid -> calls it served
	stop     chan struct{}
	done     sync.WaitGroup
}

func startPIDLoad(base string, n int) *pidLoad {
	l := &pidLoad{served: map[int]int{}, stop: make(chan struct{})}
	for range n {
		l.done.Go(func() {
			client := &http.Client{Timeout: 5 * time.Second}
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				code, body := get(client, base+"/pid")
				l.mu.Lock()
				l.calls++
				if pid, err := strconv.Atoi(body); code == http.StatusOK && err == nil {
					l.served[pid]++
				} else {
					l.failures = append(l.failures, strconv.Itoa(code)+" "+body)
				}
				l.mu.Unlock()
			}
		})
	}
	return l
}

// take returns what the load did since the last take, and resets it.
func (l *pidLoad) take() (calls int, failures []string, served map[int]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	calls, failures, served = l.calls, l.failures, l.served
	l.calls, l.failures, l.served = 0, nil, map[int]int{}
	return calls, failures, served
}

func (l *pidLoad) end() {
	close(l.stop)
	l.done.Wait()
}

// A replica made slow under load is ejected by its caller (status says
// by whom), its callers' calls keep succeeding (at least 99%: only the
// few that ejected it, and each failed probe, time out), and once healed
// it is probed back in and serves again. Then with every replica slow,
// the caller's circuit opens: calls fail at once, with the circuit named,
// until the replicas heal.
func TestSlowReplicaEjected(t *testing.T) {
	t.Parallel()
	h, base := startResilienceApp(t)
	calc := h.unit("testapp.Calc")
	slowPID := calc.Replicas[0].PID
	load := startPIDLoad(base, 8)
	defer load.end()
	time.Sleep(300 * time.Millisecond)

	h.fault(0, "slow")
	h.eventually("the slow replica to be ejected", func() bool {
		return len(h.unit("testapp.Calc").Replicas[0].EjectedBy) > 0
	})
	by := h.unit("testapp.Calc").Replicas[0].EjectedBy
	if main := h.unit("pilotage.Main"); !slices.Contains(by, main.Group+"/0") {
		t.Errorf("ejected by %v, want the main replica, its only caller", by)
	}
	time.Sleep(2 * time.Second) // ejected for 1s, probed (and failing), ejected for 2s
	calls, failures, served := load.take()
	t.Logf("while slow: %d calls, %d failed, served by %v", calls, len(failures), served)
	if calls < 200 {
		t.Errorf("only %d calls while the replica was slow: the load did not run", calls)
	}
	if float64(len(failures)) > 0.01*float64(calls) {
		t.Errorf("%d of %d calls failed while a replica was slow (over 1%%); first: %s", len(failures), calls, failures[0])
	}

	h.fault(0, "")
	h.eventually("the healed replica to be readmitted", func() bool {
		return len(h.unit("testapp.Calc").Replicas[0].EjectedBy) == 0
	})
	load.take()
	time.Sleep(500 * time.Millisecond)
	calls, failures, served = load.take()
	if served[slowPID] == 0 || len(failures) != 0 {
		t.Errorf("once healed: %d calls, %d failed, served by %v; want the healed replica (pid %d) among them and no failure", calls, len(failures), served, slowPID)
	}

	for i := range 3 {
		h.fault(i, "slow")
	}
	h.eventually("the circuit to open", func() bool { return len(h.unit("testapp.Calc").CircuitOpenIn) > 0 })
	// A call may be the probe of a replica whose ejection just ended
	// (and time out); the others fail at once.
	client := &http.Client{Timeout: 5 * time.Second}
	fast := 0
	for range 5 {
		t0 := time.Now()
		code, body := get(client, base+"/pid")
		if code == http.StatusOK {
			t.Errorf("with every replica slow, a call succeeded")
		}
		if code == http.StatusServiceUnavailable && strings.Contains(body, "circuit open") && time.Since(t0) < 300*time.Millisecond {
			fast++
		} else {
			t.Logf("with the circuit open: %d %s after %v (a probe?)", code, body, time.Since(t0))
		}
	}
	if fast == 0 {
		t.Error("with every replica ejected, no call failed fast with 503 circuit open")
	}
	for i := range 3 {
		h.fault(i, "")
	}
	h.eventually("the circuit to close", func() bool {
		u := h.unit("testapp.Calc")
		return len(u.CircuitOpenIn) == 0
	})
	load.take()
	time.Sleep(300 * time.Millisecond)
	if calls, failures, _ := load.take(); calls == 0 || len(failures) != 0 {
		t.Errorf("once all healed: %d calls, %d failed", calls, len(failures))
	}
}
