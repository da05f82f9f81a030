package rpc

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pilotage/pilotage/codegen"
	"github.com/pilotage/pilotage/internal/resilience"
)

// A call whose deadline is already spent fails at once with
// DeadlineExceeded, and nothing reaches the server.
func TestSpentDeadlineNotSent(t *testing.T) {
	ts := startServer(t, "unix", ServerOptions{})
	pool := NewPool(PoolOptions{}, StaticResolver{Addrs: []string{ts.poolAddr()}})
	defer pool.Close()
	if _, err := pool.Call(context.Background(), testComponent, mEcho, encodeBytes(nil), true); err != nil {
		t.Fatal(err) // connected
	}
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Millisecond))
	defer cancel()
	for _, idempotent := range []bool{true, false} {
		if _, err := pool.Call(ctx, testComponent, mEcho, encodeBytes(nil), idempotent); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("spent deadline: %v, want DeadlineExceeded", err)
		}
	}
	c := ts.dial(t, DialOptions{})
	if _, err := c.Call(ctx, testComponent, mEcho, encodeBytes(nil)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Conn.Call with a spent deadline: %v", err)
	}
	if n := ts.calls.Load(); n != 1 {
		t.Errorf("the server ran %d calls, want only the first", n)
	}
}

// A server at its limit of calls in flight refuses the next at once with
// ErrOverloaded (and ErrUnavailable: it never ran), and takes calls again
// once one ends.
func TestServerShedsOverLimit(t *testing.T) {
	ts := startServer(t, "unix", ServerOptions{MaxInFlight: func(string) int { return 2 }})
	c := ts.dial(t, DialOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { c.Call(ctx, testComponent, mBlock, nil) })
		<-ts.blockCtx
	}
	_, err := c.Call(context.Background(), testComponent, mEcho, encodeBytes(nil))
	if !errors.Is(err, codegen.ErrOverloaded) || !errors.Is(err, codegen.ErrUnavailable) {
		t.Errorf("a call over the limit: %v, want ErrOverloaded and ErrUnavailable", err)
	}
	if l := ts.srv.load(); len(l) != 1 || l[0].Shed != 1 || l[0].InFlight != 2 || l[0].Limit != 2 {
		t.Errorf("load %+v", l)
	}
	cancel()
	wg.Wait()
	waitUntil(t, "the blocked calls to end", func() bool { return ts.srv.load()[0].InFlight == 0 })
	if _, err := c.Call(context.Background(), testComponent, mEcho, encodeBytes(nil)); err != nil {
		t.Errorf("after the blocked calls ended: %v", err)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// busyComponent's method 0 holds one lock for 2ms: a replica that serves
// 500 calls a second at most, whatever the calls in flight, like a
// CPU-bound one. Calls beyond that queue on the lock.
const busyComponent = "github.com/pilotage/pilotage/internal/rpc.Busy"

func startBusyServer(t *testing.T, opts ServerOptions) *Server {
	t.Helper()
	var mu sync.Mutex
	srv := NewServer(opts)
	if err := srv.Register(busyComponent, []codegen.Handler{func(context.Context, []byte, *codegen.Encoder) error {
		mu.Lock()
		time.Sleep(2 * time.Millisecond)
		mu.Unlock()
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return srv
}

// An overloadResult is what an open-loop load against a busy server saw.
type overloadResult struct {
	ok, shed, failed int64
	maxOK            time.Duration // the slowest accepted call that succeeded
	maxInFlight      int           // on the server
	maxGoroutines    int
	heapGrowth       uint64 // the most the heap grew over its size before the load, in bytes
	lateOK, lateAll  int64  // calls ending in the last third of the load: succeeded, all
}

// overload offers a busy server three times what it can serve (1500 calls
// a second, each on its own goroutine, as requests arriving from outside
// would) for d, each call with deadline timeout (none if 0), and samples
// the server's calls in flight and this process's memory meanwhile.
func overload(t *testing.T, srv *Server, addr string, d, timeout time.Duration) overloadResult {
	t.Helper()
	// Calls timing out would soon eject the only replica and open the
	// circuit, shedding at the caller: not what this tests.
	pool := NewPool(PoolOptions{Ejection: resilience.EjectionPolicy{After: -1}}, StaticResolver{Addrs: []string{addr}})
	defer pool.Close()
	var res overloadResult
	var mu sync.Mutex
	var wg sync.WaitGroup
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heap0 := ms.HeapAlloc
	start := time.Now()
	late := start.Add(d * 2 / 3)
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() { // sample
		defer close(sampled)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			runtime.ReadMemStats(&ms)
			mu.Lock()
			res.maxInFlight = max(res.maxInFlight, srv.load()[0].InFlight)
			res.maxGoroutines = max(res.maxGoroutines, runtime.NumGoroutine())
			if ms.HeapAlloc > heap0 {
				res.heapGrowth = max(res.heapGrowth, ms.HeapAlloc-heap0)
			}
			mu.Unlock()
		}
	}()
	tick := time.NewTicker(2 * time.Millisecond)
	for time.Since(start) < d {
		<-tick.C
		for range 3 {
			wg.Go(func() {
				ctx := context.Background()
				if timeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, timeout)
					defer cancel()
				}
				t0 := time.Now()
				_, err := pool.Call(ctx, busyComponent, 0, nil, false)
				took := time.Since(t0)
				mu.Lock()
				defer mu.Unlock()
				isLate := time.Now().After(late)
				switch {
				case err == nil:
					res.ok++
					res.maxOK = max(res.maxOK, took)
					if isLate {
						res.lateOK++
					}
				case errors.Is(err, codegen.ErrOverloaded):
					res.shed++
				default:
					res.failed++
				}
				if isLate && !errors.Is(err, codegen.ErrOverloaded) {
					res.lateAll++
				}
			})
		}
	}
	tick.Stop()
	wg.Wait()
	close(stop)
	<-sampled
	t.Logf("%d ok (slowest %v), %d shed, %d failed; at most %d in flight on the server, %d goroutines, heap +%d KiB; in the last third %d of %d accepted calls succeeded",
		res.ok, res.maxOK, res.shed, res.failed, res.maxInFlight, res.maxGoroutines, res.heapGrowth>>10, res.lateOK, res.lateAll)
	return res
}

// An overloaded server with a fixed limit sheds what it cannot serve
// rather than queue it: the calls it accepts stay few, so their latency
// stays bounded (about limit × 2ms; without a limit the queue, and every
// call's wait, would grow through the whole load: to seconds), and so do
// goroutines and memory.
func TestOverloadShedsFixedLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("loads a server for seconds")
	}
	const limit = 16
	srv := startBusyServer(t, ServerOptions{MaxInFlight: func(string) int { return limit }})
	addr := "unix://" + srvAddr(t, srv)
	r := overload(t, srv, addr, 3*time.Second, 0)
	if r.shed == 0 || r.ok == 0 || r.failed != 0 {
		t.Errorf("%d ok, %d shed, %d failed: want both accepted and shed calls, no other failure", r.ok, r.shed, r.failed)
	}
	if r.maxInFlight > limit {
		t.Errorf("%d calls in flight on the server, over the limit of %d", r.maxInFlight, limit)
	}
	// Generous bounds: a queue growing by 1000 calls a second would reach
	// 3000 calls, seconds of wait and thousands of goroutines.
	if r.maxOK > time.Second {
		t.Errorf("the slowest accepted call took %v: calls queue", r.maxOK)
	}
	if r.maxGoroutines > 1000 {
		t.Errorf("%d goroutines: calls pile up", r.maxGoroutines)
	}
	if r.heapGrowth > 64<<20 {
		t.Errorf("the heap grew by %d MiB", r.heapGrowth>>20)
	}
}

// With the adaptive default, calls that miss their deadline cut the
// limit, so the server comes to shed the excess and the calls it accepts
// meet their deadline again, where without shedding all would queue past
// it.
func TestOverloadShedsAdaptive(t *testing.T) {
	if testing.Short() {
		t.Skip("loads a server for seconds")
	}
	srv := startBusyServer(t, ServerOptions{})
	addr := "unix://" + srvAddr(t, srv)
	r := overload(t, srv, addr, 4*time.Second, 200*time.Millisecond)
	if r.shed == 0 {
		t.Error("nothing shed")
	}
	if l := srv.load()[0].Limit; l >= resilience.AdaptiveMax/2 {
		t.Errorf("the adaptive limit is %d after the overload; want it cut well below %d", l, resilience.AdaptiveMax)
	}
	if r.lateAll == 0 || float64(r.lateOK) < 0.8*float64(r.lateAll) {
		t.Errorf("in the last third, %d of %d accepted calls met their deadline; want most", r.lateOK, r.lateAll)
	}
	if r.maxGoroutines > 2000 || r.heapGrowth > 64<<20 {
		t.Errorf("%d goroutines, heap +%d MiB: calls pile up", r.maxGoroutines, r.heapGrowth>>20)
	}
}

// srvAddr returns the address of srv's only listener.
func srvAddr(t *testing.T, srv *Server) string {
	t.Helper()
	var addr string
	waitUntil(t, "the server to listen", func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		for l := range srv.listeners {
			addr = l.Addr().String()
		}
		return addr != ""
	})
	return addr
}

// With every replica shedding (a dependency down, but answering), the
// retries a pool makes stay within its budget: Burst + Ratio×calls +
// Floor×seconds, counted by the servers (each refusal is an attempt),
// where without a budget each call would be tried three times.
func TestRetryBudgetUnderOutage(t *testing.T) {
	var servers []*testServer
	var addrs []string
	for range 3 {
		ts := startServer(t, "unix", ServerOptions{MaxInFlight: func(string) int { return 1 }})
		c := ts.dial(t, DialOptions{})
		go c.Call(t.Context(), testComponent, mBlock, nil) // holds the only slot
		<-ts.blockCtx
		servers, addrs = append(servers, ts), append(addrs, ts.poolAddr())
	}
	policy := resilience.BudgetPolicy{Ratio: 0.1, Floor: 5, Burst: 10}
	pool := NewPool(PoolOptions{RetryBudget: policy}, StaticResolver{Addrs: addrs})
	defer pool.Close()
	start := time.Now()
	const calls = 2000
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 8 {
		wg.Go(func() {
			for range calls / 8 {
				if _, err := pool.Call(context.Background(), testComponent, mEcho, encodeBytes(nil), true); errors.Is(err, codegen.ErrOverloaded) {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	var attempts int64
	for _, ts := range servers {
		attempts += ts.srv.load()[0].Shed
	}
	retries := attempts - calls
	budget := float64(policy.Burst) + policy.Ratio*calls + policy.Floor*elapsed.Seconds()
	t.Logf("%d calls in %v: %d attempts, %d retries (pool counted %d), budget %.0f", calls, elapsed, attempts, retries, pool.Health().Retries, budget)
	if failed.Load() != calls {
		t.Errorf("%d of %d calls failed with ErrOverloaded", failed.Load(), calls)
	}
	if float64(retries) > budget {
		t.Errorf("%d retries, over the budget of %.0f", retries, budget)
	}
	if retries != pool.Health().Retries {
		t.Errorf("the servers saw %d retries, the pool counted %d", retries, pool.Health().Retries)
	}
	if retries < int64(policy.Ratio*calls)/2 {
		t.Errorf("only %d retries: the budget should allow about %v", retries, policy.Ratio*calls)
	}
}

// flakyComponent's method 0 succeeds, or, while its server's slow switch
// is on, hangs until its deadline and then succeeds, as a method returning
// ctx.Err() does to the transport (its error travels in its results): the
// server answers DeadlineExceeded all the same.
const flakyComponent = "github.com/pilotage/pilotage/internal/rpc.Flaky"

func startFlakyServer(t *testing.T) (addr string, slow *atomic.Bool, calls *atomic.Int64) {
	t.Helper()
	slow, calls = new(atomic.Bool), new(atomic.Int64)
	srv := NewServer(ServerOptions{})
	if err := srv.Register(flakyComponent, []codegen.Handler{func(ctx context.Context, _ []byte, _ *codegen.Encoder) error {
		calls.Add(1)
		if slow.Load() {
			<-ctx.Done()
		}
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "unix://" + l.Addr().String(), slow, calls
}

// A replica whose calls time out is ejected after EjectAfter of them in a
// row, gets no calls but a probe at the end of each ejection (which
// doubles while it fails), and is readmitted by the first probe that
// succeeds. With every replica ejected, calls fail at once with
// ErrCircuitOpen, until a probe succeeds.
func TestPoolEjectsAndProbes(t *testing.T) {
	a, aSlow, _ := startFlakyServer(t)
	b, bSlow, bCalls := startFlakyServer(t)
	pool := NewPool(PoolOptions{Ejection: resilience.EjectionPolicy{After: 3, Base: time.Second, Max: 4 * time.Second}}, StaticResolver{Addrs: []string{a, b}})
	defer pool.Close()
	call := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		_, err := pool.Call(ctx, flakyComponent, 0, nil, true)
		return err
	}
	waitUntil(t, "both replicas to serve", func() bool {
		if err := call(); err != nil {
			t.Fatalf("healthy: %v", err)
		}
		return bCalls.Load() > 0
	})
	for range 10 {
		if err := call(); err != nil {
			t.Fatalf("healthy: %v", err)
		}
	}
	bSlow.Store(true)
	failures := 0
	for i := 0; i < 50 && len(pool.Health().Ejected) == 0; i++ {
		if call() != nil {
			failures++
		}
	}
	ejected := time.Now()
	h := pool.Health()
	if len(h.Ejected) != 1 || h.Ejected[0].Addr != b || h.Open || failures != 3 {
		t.Fatalf("health %+v after %d failed calls, want b ejected by 3, circuit closed", h, failures)
	}
	// While ejected, b gets one probe at the end of its ejection (1s),
	// which fails and doubles it.
	before := bCalls.Load()
	for time.Since(ejected) < 1500*time.Millisecond {
		call()
		time.Sleep(time.Millisecond)
	}
	if probes := bCalls.Load() - before; probes != 1 {
		t.Errorf("b got %d calls in the 1.5s after it was ejected for 1s; want 1 probe", probes)
	}
	bSlow.Store(false)
	waitUntil(t, "b to be readmitted", func() bool {
		call()
		return len(pool.Health().Ejected) == 0
	})
	before = bCalls.Load()
	for range 20 {
		if err := call(); err != nil {
			t.Fatalf("after b healed: %v", err)
		}
	}
	if bCalls.Load()-before < 5 {
		t.Errorf("b served %d of 20 calls once readmitted", bCalls.Load()-before)
	}

	// Both slow: both ejected, and then calls fail at once with
	// ErrCircuitOpen, without reaching either, until a probe succeeds.
	aSlow.Store(true)
	bSlow.Store(true)
	waitUntil(t, "the circuit to open", func() bool {
		call()
		return pool.Health().Open
	})
	t0 := time.Now()
	err := call()
	if !errors.Is(err, codegen.ErrCircuitOpen) || !errors.Is(err, codegen.ErrUnavailable) {
		t.Errorf("with the circuit open: %v, want ErrCircuitOpen and ErrUnavailable", err)
	}
	if d := time.Since(t0); d >= 30*time.Millisecond {
		t.Errorf("with the circuit open, a call took %v, its whole deadline: want a fast failure", d)
	}
	aSlow.Store(false)
	bSlow.Store(false)
	waitUntil(t, "the circuit to close", func() bool {
		call()
		return !pool.Health().Open
	})
	if err := call(); err != nil {
		t.Errorf("once a replica recovered: %v", err)
	}
}

// A default timeout (CallWithin, as a proclet gives a call whose context
// has none) ends the call as a deadline of the caller's would: the server
// is given it (the handler's context has it, and ends with it), and the
// call fails with DeadlineExceeded at about that time; a deadline of the
// caller's takes precedence; and a wait for an address ends with it too.
func TestCallWithinDefaultTimeout(t *testing.T) {
	ts := startServer(t, "unix", ServerOptions{})
	pool := NewPool(PoolOptions{}, StaticResolver{Addrs: []string{ts.poolAddr()}})
	defer pool.Close()
	const timeout = 300 * time.Millisecond
	start := time.Now()
	_, err := pool.CallWithin(context.Background(), testComponent, mBlock, nil, true, timeout)
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) || took < timeout || took > timeout+2*time.Second {
		t.Errorf("a blocked call with a default timeout of %v: %v after %v, want DeadlineExceeded after about that", timeout, err, took)
	}
	hctx := <-ts.blockCtx
	if d, ok := hctx.Deadline(); !ok || d.Sub(start) > timeout+100*time.Millisecond || d.Sub(start) < timeout-100*time.Millisecond {
		t.Errorf("the handler's deadline: %v (%v after the call began), want about %v", ok, d.Sub(start), timeout)
	}
	<-hctx.Done()

	// The caller's own deadline wins over the default.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = pool.CallWithin(ctx, testComponent, mBlock, nil, true, time.Hour)
	if took := time.Since(start); !errors.Is(err, context.DeadlineExceeded) || took > 2*time.Second {
		t.Errorf("with a 100ms deadline of the caller's and a default of an hour: %v after %v", err, took)
	}
	<-ts.blockCtx

	// No address (a transient outage): the wait ends at the default
	// timeout, not at MaxWait.
	r := newManualResolver()
	r.set(nil, Outage{Transient: true, Reason: "starting"})
	waiting := NewPool(PoolOptions{MaxWait: time.Minute}, r)
	defer waiting.Close()
	start = time.Now()
	_, err = waiting.CallWithin(context.Background(), testComponent, mEcho, nil, true, timeout)
	if took := time.Since(start); !errors.Is(err, context.DeadlineExceeded) || took > timeout+2*time.Second {
		t.Errorf("waiting for an address with a default timeout of %v: %v after %v", timeout, err, took)
	}
}
