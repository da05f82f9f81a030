package telemetry

import (
	"context"
	"errors"
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
	m := &methodStats{component: component, method: method, side: side}
	r.methods = append(r.methods, m)
	return m
}

// methodStats are one method's counters on one side.
type methodStats struct {
	component, method, side string

	calls, reqBytes, replyBytes atomic.Uint64
	inFlight                    atomic.Int64
	errors                      [len(errorKinds)]atomic.Uint64       // by index in errorKinds
	latency                     [numLatencyBuckets + 1]atomic.Uint64 // by envelope.LatencyBuckets, then above them
	latencySumNanos             atomic.Uint64
}

// numLatencyBuckets is len(envelope.LatencyBuckets) (TestLatencyBuckets).
const numLatencyBuckets = 17

func (m *methodStats) begin() time.Time {
	m.inFlight.Add(1)
	return time.Now()
}

// end records a call that began at start; kind is "" for a success.
func (m *methodStats) end(start time.Time, reqBytes, replyBytes int, kind string) {
	d := time.Since(start)
	m.inFlight.Add(-1)
	m.calls.Add(1)
	m.reqBytes.Add(uint64(reqBytes))
	m.replyBytes.Add(uint64(replyBytes))
	m.latencySumNanos.Add(uint64(d))
	m.latency[latencyBucket(d)].Add(1)
	if kind != "" {
		for i, k := range errorKinds {
			if k == kind {
				m.errors[i].Add(1)
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
			Calls: m.calls.Load(), InFlight: m.inFlight.Load(),
			RequestBytes: m.reqBytes.Load(), ReplyBytes: m.replyBytes.Load(),
			Latency:    make([]uint64, len(envelope.LatencyBuckets)+1),
			LatencySum: float64(m.latencySumNanos.Load()) / 1e9,
		}
		for i := range w.Latency {
			w.Latency[i] = m.latency[i].Load()
		}
		for i, k := range errorKinds {
			if n := m.errors[i].Load(); n > 0 {
				if w.Errors == nil {
					w.Errors = map[string]uint64{}
				}
				w.Errors[k] = n
			}
		}
		out.Methods = append(out.Methods, w)
	}
	out.Process = processMetrics()
	out.Process.Goroutines = runtime.NumGoroutine()
	return out
}
