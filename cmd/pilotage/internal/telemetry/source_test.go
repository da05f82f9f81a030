package telemetry

import (
	"slices"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/internal/envelope"
)

// A trace whose spans two stores kept (two pods) is one trace once
// merged: its root from the store that saw it begin, its spans, errors
// and processes summed, its duration over both; the query applies to the
// merged traces.
func TestMergeTraces(t *testing.T) {
	t0 := time.Now()
	front, back := NewStore(10), NewStore(10)
	front.Add("main-pod", []envelope.Span{span("t1", "a1", "", "POST /checkout", t0, 10*time.Millisecond, "")})
	back.Add("cart-pod", []envelope.Span{
		span("t1", "c1", "a1", "cart.Cart.Items", t0.Add(2*time.Millisecond), 12*time.Millisecond, "error"),
		span("t2", "c2", "", "cart.Cart.Add", t0.Add(time.Second), time.Millisecond, ""),
	})
	parts := [][]api.TraceSummary{back.List(control.TraceQuery{}), front.List(control.TraceQuery{})}
	all := MergeTraces(parts, control.TraceQuery{})
	if len(all) != 2 || all[0].TraceID != "t2" {
		t.Fatalf("merged = %+v, want t2 then t1", all)
	}
	got := all[1]
	if got.Root != "POST /checkout" || !got.Start.Equal(t0) || got.Duration != 14*time.Millisecond || got.Spans != 2 || got.Errors != 1 || !slices.Equal(got.Processes, []string{"cart-pod", "main-pod"}) {
		t.Errorf("merged t1 = %+v", got)
	}
	if errs := MergeTraces(parts, control.TraceQuery{Errors: true}); len(errs) != 1 || errs[0].TraceID != "t1" {
		t.Errorf("with errors = %+v, want t1 only", errs)
	}
	if slow := MergeTraces(parts, control.TraceQuery{Slowest: true, Limit: 1}); len(slow) != 1 || slow[0].TraceID != "t1" {
		t.Errorf("slowest = %+v, want t1", slow)
	}
}

// The figures of two sources add up per method; their processes are all
// listed.
func TestSumMetrics(t *testing.T) {
	a, b := NewMetrics(), NewMetrics()
	lat := make([]uint64, len(envelope.LatencyBuckets)+1)
	lat[1] = 3
	a.Set("pod-a", envelope.Metrics{Methods: []envelope.MethodMetrics{{Component: "c.C", Method: "M", Side: "server", Calls: 3, Errors: map[string]uint64{"internal": 1}, InFlight: 1, Latency: lat}}, Process: envelope.ProcessMetrics{Goroutines: 7}})
	b.Set("pod-b", envelope.Metrics{Methods: []envelope.MethodMetrics{{Component: "c.C", Method: "M", Side: "server", Calls: 2, Errors: map[string]uint64{"internal": 2}, Latency: lat}}})
	sum := SumMetrics([]api.Metrics{a.Snapshot(), b.Snapshot()})
	if len(sum.Methods) != 1 {
		t.Fatalf("methods = %+v", sum.Methods)
	}
	m := sum.Methods[0]
	if m.Calls != 5 || m.Errors["internal"] != 3 || m.InFlight != 1 || m.Latency[1] != 6 {
		t.Errorf("summed = %+v", m)
	}
	if len(sum.Processes) != 2 || sum.Processes[0].Replica != "pod-a" || sum.Processes[0].Goroutines != 7 || sum.Processes[1].Replica != "pod-b" {
		t.Errorf("processes = %+v", sum.Processes)
	}
}
