package telemetry

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pilotage/pilotage/codegen"
	"github.com/pilotage/pilotage/internal/envelope"
	"github.com/pilotage/pilotage/internal/rpc"
)

// Error kinds, as MethodMetrics.Errors counts them.
const (
	kindApplication = "application"
	kindUnavailable = "unavailable"
	kindInterrupted = "interrupted"
	kindDeadline    = "deadline"
	kindCanceled    = "canceled"
	kindPanic       = "panic"
	kindTooLarge    = "too_large"
	kindOther       = "other"
)

var errorKinds = [...]string{kindApplication, kindUnavailable, kindInterrupted, kindDeadline, kindCanceled, kindPanic, kindTooLarge, kindOther}

// errorKind classifies the error of a call that failed in the runtime
// (not one the method returned, which is kindApplication).
func errorKind(err error) string {
	switch {
	case errors.Is(err, codegen.ErrPanic):
		return kindPanic
	case errors.Is(err, codegen.ErrUnavailable):
		return kindUnavailable
	case errors.Is(err, codegen.ErrInterrupted):
		return kindInterrupted
	case errors.Is(err, context.DeadlineExceeded):
		return kindDeadline
	case errors.Is(err, context.Canceled):
		return kindCanceled
	case errors.Is(err, rpc.ErrTooLarge):
		return kindTooLarge
	}
	return kindOther
}

// A registry holds the counters of every method this process calls or
// serves; its entries are made when a stub is, so the hot path only adds.
type registry struct {
	mu      sync.Mutex
	methods []*methodStats
}

func newRegistry() *registry { return &registry{} }

func (r *registry) method(component, method, side string) *methodStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.methods {
		if m.component == component && m.method == method && m.side == side {
			return m // a second stub of the same component shares them
		}
	}
	m := &methodStats{component: component, method: method, side: side, stripes: make([]stripe, numStripes)}
	r.methods = append(r.methods, m)
	return m
}

// methodStats are one method's counters on one side, striped: each call
// adds to one stripe, drawn at random, so that calls on different CPUs
// seldom contend for one cache line (6 contended atomic additions cost
// more than the rest of the call's telemetry); a snapshot sums them.
type methodStats struct {
	component, method, side string
	stripes                 []stripe
}

type stripe struct {
	reqBytes, replyBytes atomic.Uint64
	inFlight             atomic.Int64
	errors               [len(errorKinds)]atomic.Uint64 // by index in errorKinds
	// latency counts the calls that ended by duration (the buckets of
	// envelope.LatencyBuckets, then above them): their sum is the calls.
	latency         [numLatencyBuckets + 1]atomic.Uint64
	latencySumNanos atomic.Uint64
	_               [64]byte // the next stripe's counters are on other cache lines
}

// numStripes is the stripes of each methodStats: a power of two, four
// per CPU (at most 64), so that two CPUs' calls meet on one with a
// chance of one in four times the CPUs or less.
var numStripes = func() int {
	n := 1
	for n < 4*runtime.GOMAXPROCS(0) && n < 64 {
		n *= 2
	}
	return n
}()

// numLatencyBuckets is len(envelope.LatencyBuckets) (TestLatencyBuckets).
const numLatencyBuckets = 17

// epoch is what call times are measured from: time.Since of a time with
// a monotonic reading reads one clock, time.Now two.
var epoch = time.Now()

// A callStart is what begin returns for end.
type callStart struct {
	stripe *stripe
	at     time.Duration // since epoch
}

func (m *methodStats) begin() callStart {
	s := &m.stripes[rand.Uint32()&uint32(len(m.stripes)-1)]
	s.inFlight.Add(1)
	return callStart{s, time.Since(epoch)}
}

// end records a call that began at start; kind is "" for a success.
func (m *methodStats) end(start callStart, reqBytes, replyBytes int, kind string) {
	d := time.Since(epoch) - start.at
	s := start.stripe
	s.inFlight.Add(-1)
	s.reqBytes.Add(uint64(reqBytes))
	s.replyBytes.Add(uint64(replyBytes))
	s.latencySumNanos.Add(uint64(d))
	s.latency[latencyBucket(d)].Add(1)
	if kind != "" {
		for i, k := range errorKinds {
			if k == kind {
				s.errors[i].Add(1)
			}
		}
	}
}

// latencyBucket is the index in envelope.LatencyBuckets of d's bucket.
func latencyBucket(d time.Duration) int {
	s := d.Seconds()
	return sort.SearchFloat64s(envelope.LatencyBuckets, s) // first bound >= s; len: above all
}

// snapshot returns the counters as they are now.
func (r *registry) snapshot() envelope.Metrics {
	r.mu.Lock()
	methods := r.methods
	r.mu.Unlock()
	var out envelope.Metrics
	for _, m := range methods {
		w := envelope.MethodMetrics{
			Component: m.component, Method: m.method, Side: m.side,
			Latency: make([]uint64, len(envelope.LatencyBuckets)+1),
		}
		var errs [len(errorKinds)]uint64
		var latencySum uint64
		for i := range m.stripes {
			s := &m.stripes[i]
			w.InFlight += s.inFlight.Load()
			w.RequestBytes += s.reqBytes.Load()
			w.ReplyBytes += s.replyBytes.Load()
			latencySum += s.latencySumNanos.Load()
			for j := range w.Latency {
				n := s.latency[j].Load()
				w.Latency[j] += n
				w.Calls += n
			}
			for j := range errs {
				errs[j] += s.errors[j].Load()
			}
		}
		w.LatencySum = float64(latencySum) / 1e9
		for i, k := range errorKinds {
			if errs[i] > 0 {
				if w.Errors == nil {
					w.Errors = map[string]uint64{}
				}
				w.Errors[k] = errs[i]
			}
		}
		out.Methods = append(out.Methods, w)
	}
	out.Process = processMetrics()
	out.Process.Goroutines = runtime.NumGoroutine()
	return out
}
