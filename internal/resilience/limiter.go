package resilience

import (
	"sync"
	"sync/atomic"
	"time"
)

// Bounds of an adaptive Limiter.
const (
	// AdaptiveMax is where an adaptive limit starts, and its ceiling: a
	// server never runs more calls to one component at once by default.
	// Each holds a goroutine and its arguments, so this bounds memory.
	AdaptiveMax = 1000
	// AdaptiveMin is its floor, so that a burst of missed deadlines cannot
	// shut a component off.
	AdaptiveMin = 8
	// A missed deadline cuts the limit at most once per decreaseEvery, to
	// between minBackoff and maxBackoff of the calls then in flight.
	minBackoff    = 0.5
	maxBackoff    = 0.9
	decreaseEvery = 100 * time.Millisecond
)

// A Limiter bounds the calls in flight to one component on one server. A
// fixed limit is what the configuration says. An adaptive one is AIMD, as
// TCP's congestion window and Netflix's concurrency-limits: it starts at
// AdaptiveMax and grows by one per limit's worth of calls that end in time
// while at least half of it is in use, so it climbs back once an overload
// is over; and a call that ends past its deadline, the sign that the
// server runs more calls than it completes in time, cuts it (at most once
// per 100ms) to what would have met that deadline by Little's law: the
// calls in flight times deadline/latency, that ratio taken between 0.5 and
// 0.9 (so a cut is never less than a tenth, nor more than half). Latency
// alone is not the signal: a call that waits on its own dependencies
// takes long without loading this server, and so does a call without a
// deadline, which never cuts the limit.
//
// Safe for concurrent use; Acquire and Release cost an atomic operation
// each on the path of a call, and a lock only while the limit adapts.
type Limiter struct {
	adaptive bool
	inFlight atomic.Int64
	limit    atomic.Int64 // current limit, whole calls
	shed     atomic.Int64 // calls refused, ever

	mu           sync.Mutex // adaptive: guards what follows
	exact        float64    // the limit with its fraction
	lastDecrease time.Time
}

// NewLimiter returns a limiter of at most limit calls in flight; 0 means
// adaptive, and negative means no limit.
func NewLimiter(limit int) *Limiter {
	l := &Limiter{}
	switch {
	case limit == 0:
		l.adaptive, l.exact = true, AdaptiveMax
		l.limit.Store(AdaptiveMax)
	case limit < 0:
		l.limit.Store(1 << 62)
	default:
		l.limit.Store(int64(limit))
	}
	return l
}

// Acquire admits a call, or reports false if the limit is reached: the
// call must then be refused, not queued.
func (l *Limiter) Acquire() bool {
	if l.inFlight.Add(1) > l.limit.Load() {
		l.inFlight.Add(-1)
		l.shed.Add(1)
		return false
	}
	return true
}

// Release ends an admitted call, which had budget to run (0 if no
// deadline) from start. now is called only if the limit adapts to the
// call (so a fixed limit costs no clock reading).
func (l *Limiter) Release(budget time.Duration, start time.Time, now func() time.Time) {
	n := l.inFlight.Add(-1) + 1 // in flight while it ran, itself included
	if !l.adaptive {
		return
	}
	var late bool
	var elapsed time.Duration
	var t time.Time
	if budget > 0 {
		t = now()
		elapsed = t.Sub(start)
		late = elapsed >= budget
	}
	if !late && 2*n < l.limit.Load() {
		return // not limited by the limit: nothing learnt
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if late {
		if t.Sub(l.lastDecrease) < decreaseEvery {
			return
		}
		l.lastDecrease = t
		ratio := min(max(float64(budget)/float64(elapsed), minBackoff), maxBackoff)
		l.exact = max(min(l.exact, float64(n))*ratio, AdaptiveMin)
	} else {
		l.exact = min(l.exact+1/l.exact, AdaptiveMax)
	}
	l.limit.Store(int64(l.exact))
}

// Limit returns the current limit (huge if none).
func (l *Limiter) Limit() int { return int(l.limit.Load()) }

// InFlight returns the calls admitted and not yet released.
func (l *Limiter) InFlight() int { return int(l.inFlight.Load()) }

// Shed returns how many calls were refused, ever.
func (l *Limiter) Shed() int64 { return l.shed.Load() }
