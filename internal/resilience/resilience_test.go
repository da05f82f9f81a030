package resilience

import (
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Under a storm of retries, the budget allows at most
// Burst + Ratio*calls + Floor*seconds.
func TestRetryBudgetBound(t *testing.T) {
	b := NewRetryBudget(BudgetPolicy{Ratio: 0.1, Floor: 10, Burst: 20}, t0)
	now := t0
	calls, retries := 0, 0
	for i := range 100_000 { // 10 s at 10k calls a second, each wanting a retry
		now = t0.Add(time.Duration(i) * 100 * time.Microsecond)
		b.Call()
		calls++
		if b.Retry(now) {
			retries++
		}
	}
	secs := now.Sub(t0).Seconds()
	bound := 20 + 0.1*float64(calls) + 10*secs
	if float64(retries) > bound {
		t.Errorf("%d retries for %d calls in %.1fs; budget %0.f", retries, calls, secs, bound)
	}
	if float64(retries) < 0.9*0.1*float64(calls) {
		t.Errorf("%d retries for %d calls: the budget should allow about a tenth", retries, calls)
	}
}

// With no calls at all, retries are bounded by the burst and the floor.
func TestRetryBudgetFloor(t *testing.T) {
	b := NewRetryBudget(BudgetPolicy{}, t0) // defaults: 0.1, 10/s, burst 20
	retries := 0
	for ms := range 5000 {
		if b.Retry(t0.Add(time.Duration(ms) * time.Millisecond)) {
			retries++
		}
	}
	if retries < 60 || retries > 20+50 {
		t.Errorf("%d retries in 5s with no calls; want within burst 20 + 10/s", retries)
	}
}

func TestRetryBudgetConcurrent(t *testing.T) {
	b := NewRetryBudget(BudgetPolicy{Ratio: 0.1, Floor: 1, Burst: 5}, t0)
	var mu sync.Mutex
	retries := 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				b.Call()
				if b.Retry(t0) {
					mu.Lock()
					retries++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	// Call may overshoot the burst by a call's share per goroutine.
	if max := 5 + 0.1*8000 + 1; float64(retries) > max {
		t.Errorf("%d retries, budget %v", retries, max)
	}
}

// A replica is ejected after After consecutive failures, for Base, then
// admits one probe; a failed probe doubles the ejection, a good one
// readmits it; a success in between resets the count.
func TestOutlierLifecycle(t *testing.T) {
	p := EjectionPolicy{After: 3, Base: time.Second, Max: 4 * time.Second}.WithDefaults()
	o := NewOutlier()
	now := t0
	fail := func(probe bool) bool { return o.Report(now, true, probe, p) }
	fail(false)
	fail(false)
	o.Report(now, false, false, p) // a success resets
	if !o.Clean() || o.Failures() != 0 {
		t.Fatalf("after a success: clean %v, failures %d", o.Clean(), o.Failures())
	}
	fail(false)
	fail(false)
	if o.Clean() {
		t.Error("clean after failures")
	}
	if !fail(false) {
		t.Fatal("third failure did not eject")
	}
	if ok, _ := o.Admit(now.Add(999 * time.Millisecond)); ok {
		t.Error("admitted during its ejection")
	}
	// A call admitted before the ejection, ending during it, changes nothing.
	if o.Report(now, false, false, p) {
		t.Error("a late success readmitted it")
	}
	for _, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
		_, until := o.Ejected()
		if d := until.Sub(now); d != want {
			t.Errorf("ejected for %v, want %v", d, want)
		}
		now = until
		ok, probe := o.Admit(now)
		if !ok || !probe {
			t.Fatalf("at the end of its ejection: admitted %v, probe %v", ok, probe)
		}
		if ok, _ := o.Admit(now); ok {
			t.Error("a second call admitted while probing")
		}
		fail(true)
	}
	_, until := o.Ejected()
	now = until
	o.Admit(now)
	if !o.Report(now, false, true, p) {
		t.Fatal("a good probe did not readmit it")
	}
	if ej, _ := o.Ejected(); ej || !o.Clean() {
		t.Errorf("after a good probe: ejected %v, clean %v", ej, o.Clean())
	}
	// Ejected again soon: longer than Base; after Max healthy: Base again.
	for range 3 {
		fail(false)
	}
	if _, u := o.Ejected(); u.Sub(now) != 4*time.Second {
		t.Errorf("re-ejected soon after for %v, want 4s (the max)", u.Sub(now))
	}
	now = now.Add(4 * time.Second)
	o.Admit(now)
	o.Report(now, false, true, p)
	now = now.Add(5 * time.Second)
	for range 3 {
		fail(false)
	}
	if _, u := o.Ejected(); u.Sub(now) != time.Second {
		t.Errorf("ejected after a long healthy spell for %v, want 1s", u.Sub(now))
	}
}

func TestOutlierNeverEjects(t *testing.T) {
	p := EjectionPolicy{After: -1}.WithDefaults()
	o := NewOutlier()
	for range 100 {
		if o.Report(t0, true, false, p) {
			t.Fatal("ejected with After < 0")
		}
	}
}

func TestLimiterFixed(t *testing.T) {
	l := NewLimiter(2)
	if !l.Acquire() || !l.Acquire() {
		t.Fatal("refused under the limit")
	}
	if l.Acquire() {
		t.Fatal("admitted over the limit")
	}
	l.Release(0, time.Time{}, nil)
	if !l.Acquire() {
		t.Fatal("refused after a release")
	}
	if l.Shed() != 1 || l.InFlight() != 2 || l.Limit() != 2 {
		t.Errorf("shed %d, in flight %d, limit %d", l.Shed(), l.InFlight(), l.Limit())
	}
	u := NewLimiter(-1)
	for range 10_000 {
		if !u.Acquire() {
			t.Fatal("an unlimited limiter refused")
		}
	}
}

// The adaptive limit falls while calls miss their deadlines (at most one
// cut per 100ms, to the calls in flight times deadline/latency within
// [0.5, 0.9]), not below AdaptiveMin, and climbs back once calls end in
// time with the limit in use.
func TestLimiterAdaptive(t *testing.T) {
	l := NewLimiter(0)
	if l.Limit() != AdaptiveMax {
		t.Fatalf("starts at %d", l.Limit())
	}
	now := t0
	late := func(n int, budget, took time.Duration) {
		for range n {
			l.Acquire()
		}
		for range n {
			l.Release(budget, now.Add(-took), func() time.Time { return now })
		}
	}
	late(600, time.Second, 2*time.Second) // 600 in flight, twice too slow: one cut, to 300
	if got := l.Limit(); got != 300 {
		t.Errorf("after a burst of late calls: %d, want 300", got)
	}
	now = now.Add(decreaseEvery)
	late(300, time.Second, 1050*time.Millisecond) // a little late: a tenth off
	if got := l.Limit(); got != 270 {
		t.Errorf("after slightly late calls: %d, want 270", got)
	}
	for range 200 {
		now = now.Add(decreaseEvery)
		l.Acquire()
		l.Release(time.Second, now.Add(-2*time.Second), func() time.Time { return now })
	}
	if l.Limit() != AdaptiveMin {
		t.Errorf("after 20s of late calls: %d, want the floor %d", l.Limit(), AdaptiveMin)
	}
	// In-time calls with little in flight teach nothing.
	l.Acquire()
	l.Release(time.Second, now.Add(-time.Second/2), func() time.Time { return now })
	if l.Limit() != AdaptiveMin {
		t.Errorf("an in-time call below half the limit changed it to %d", l.Limit())
	}
	// With the limit in use, each limit's worth of in-time calls adds one
	// (here half of each round's calls end with half the limit in use).
	grow := func(calls int) {
		for range calls {
			n := l.Limit()
			for range n {
				l.Acquire()
			}
			for range n {
				l.Release(time.Second, now.Add(-time.Second/2), func() time.Time { return now })
			}
		}
	}
	grow(10)
	if got := l.Limit(); got < AdaptiveMin+4 || got > AdaptiveMin+6 {
		t.Errorf("after 10 rounds at the limit: %d, want about %d", got, AdaptiveMin+5)
	}
	for l.Limit() < AdaptiveMax {
		grow(100)
	}
	grow(10)
	if l.Limit() != AdaptiveMax {
		t.Errorf("grew past the ceiling: %d", l.Limit())
	}
}
