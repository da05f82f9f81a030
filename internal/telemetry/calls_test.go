package telemetry

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/pilotage/pilotage/codegen"
	"github.com/pilotage/pilotage/internal/envelope"
)

var testComponent = codegen.Component{Interface: &codegen.Interface{Name: "example.com/shop/cart.Cart", Methods: []codegen.Method{{Name: "Add"}, {Name: "Items"}}}}

// echoCaller answers every call with its arguments, and records the span
// context it was called under.
type echoCaller struct {
	seen trace.SpanContext
	err  error
}

func (c *echoCaller) Call(ctx context.Context, _ int, args []byte) ([]byte, error) {
	c.seen = trace.SpanContextFromContext(ctx)
	return args, c.err
}

// With sampling off, a call is neither traced nor allocates for it, with
// or without metrics.
func TestUntracedCallsDoNotAllocate(t *testing.T) {
	for _, metrics := range []bool{false, true} {
		r, _ := startRuntime(t, envelope.Telemetry{SampleRatio: 0, Metrics: metrics})
		next := &echoCaller{}
		c := r.Caller(testComponent, next)
		hs := r.Handlers(testComponent, []codegen.Handler{func(_ context.Context, args []byte, out *codegen.Encoder) error {
			out.Bytes(args)
			return nil
		}, nil})
		args := []byte("args")
		out := codegen.GetEncoder()
		ctx := context.Background()
		allocs := testing.AllocsPerRun(1000, func() {
			if _, err := c.Call(ctx, 0, args); err != nil {
				t.Fatal(err)
			}
			out.Reset()
			if err := hs[0](ctx, args, out); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("metrics %v: %v allocations per untraced call, want 0", metrics, allocs)
		}
		if next.seen.IsValid() {
			t.Errorf("an untraced call carried span context %v", next.seen)
		}
		r.Shutdown(ctx)
	}
}

// A traced call's client span is the parent the transport carries; a
// served call's span is the child of its caller's; errors set the status
// and are counted by kind; users' spans through the global OTel API are
// children of the call they are made in.
func TestCallSpansAndCounters(t *testing.T) {
	r, col := startRuntime(t, envelope.Telemetry{SampleRatio: 1, Metrics: true})
	next := &echoCaller{}
	c := r.Caller(testComponent, next)
	var user trace.SpanContext
	hs := r.Handlers(testComponent, []codegen.Handler{
		func(ctx context.Context, _ []byte, out *codegen.Encoder) error {
			_, span := otel.Tracer("user").Start(ctx, "user work")
			user = span.SpanContext()
			span.End()
			out.Error(nil)
			return nil
		},
		func(_ context.Context, _ []byte, out *codegen.Encoder) error {
			out.Error(fmt.Errorf("no such user"))
			return nil
		},
	})
	ctx := context.Background()
	if _, err := c.Call(ctx, 0, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	client := next.seen
	remote := trace.ContextWithRemoteSpanContext(ctx, client)
	out := codegen.GetEncoder()
	if err := hs[0](remote, nil, out); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	hs[1](ctx, nil, out)
	next.err = fmt.Errorf("dial: %w", codegen.ErrUnavailable)
	c.Call(ctx, 1, nil)
	r.Shutdown(ctx)

	byName := map[string][]envelope.Span{}
	for _, s := range col.spans {
		byName[s.Name] = append(byName[s.Name], s)
	}
	adds := byName["cart.Cart.Add"]
	if len(adds) != 2 {
		t.Fatalf("spans: %+v", col.spans)
	}
	var cl, sv envelope.Span
	for _, s := range adds {
		if s.Kind == "client" {
			cl = s
		} else {
			sv = s
		}
	}
	if cl.SpanID != client.SpanID().String() || sv.ParentSpanID != cl.SpanID || sv.TraceID != cl.TraceID || sv.Kind != "server" {
		t.Errorf("client span %+v, server span %+v: want the server's parent the client, whose context the transport got", cl, sv)
	}
	if u := byName["user work"]; len(u) != 1 || u[0].ParentSpanID != sv.SpanID || u[0].SpanID != user.SpanID().String() || u[0].Scope != "user" {
		t.Errorf("user span %+v, want a child of the server span %s", u, sv.SpanID)
	}
	for _, s := range byName["cart.Cart.Items"] {
		if s.Status != "error" {
			t.Errorf("span %s (%s) of a failed call: status %q", s.Name, s.Kind, s.Status)
		}
	}
	last := col.metrics[len(col.metrics)-1]
	counts := map[string]envelope.MethodMetrics{}
	for _, m := range last.Methods {
		counts[m.Method+" "+m.Side] = m
	}
	if m := counts["Add client"]; m.Calls != 1 || m.RequestBytes != 3 || m.ReplyBytes != 3 || len(m.Errors) != 0 {
		t.Errorf("Add client: %+v", m)
	}
	if m := counts["Items server"]; m.Calls != 1 || m.Errors[kindApplication] != 1 {
		t.Errorf("Items server: %+v", m)
	}
	if m := counts["Items client"]; m.Calls != 1 || m.Errors[kindUnavailable] != 1 || m.InFlight != 0 {
		t.Errorf("Items client: %+v", m)
	}
	var n uint64
	for _, b := range counts["Add server"].Latency {
		n += b
	}
	if n != 1 {
		t.Errorf("latency histogram of Add server counts %d calls, want 1", n)
	}
	if last.Process.Goroutines == 0 {
		t.Errorf("process figures: %+v", last.Process)
	}
}

// Roots are sampled at the ratio; an unsampled root carries no trace
// context (so its callee does not trace it either) and allocates nothing.
func TestRootSampling(t *testing.T) {
	r, col := startRuntime(t, envelope.Telemetry{SampleRatio: 0.25})
	next := &echoCaller{}
	c := r.Caller(testComponent, next)
	ctx := context.Background()
	carried := 0
	for range 4000 {
		c.Call(ctx, 0, nil)
		if next.seen.IsValid() {
			carried++
			if !next.seen.IsSampled() {
				t.Fatal("an unsampled root carried its trace context")
			}
		}
	}
	r.Shutdown(ctx)
	if carried < 700 || carried > 1300 || len(col.spans) != carried {
		t.Errorf("%d of 4000 roots sampled at 0.25 (%d spans)", carried, len(col.spans))
	}
	r2, _ := startRuntime(t, envelope.Telemetry{SampleRatio: 0.001})
	c = r2.Caller(testComponent, next)
	if allocs := testing.AllocsPerRun(2000, func() { c.Call(ctx, 0, nil) }); allocs >= 1 {
		t.Errorf("%v allocations per call at 0.1 %%, want well under 1", allocs)
	}
}

// serverContext is the context a server's handler gets for a call made
// under ctx, as the transport makes it: the caller's span context as a
// remote parent, if it has one.
func serverContext(ctx context.Context) context.Context {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		return trace.ContextWithRemoteSpanContext(context.Background(), sc)
	}
	return context.Background()
}

func TestLatencyBuckets(t *testing.T) {
	if len(envelope.LatencyBuckets) != numLatencyBuckets {
		t.Fatalf("envelope.LatencyBuckets has %d bounds, the counters %d", len(envelope.LatencyBuckets), numLatencyBuckets)
	}
	for _, tc := range []struct {
		d    time.Duration
		want int
	}{{0, 0}, {50 * time.Microsecond, 0}, {51 * time.Microsecond, 1}, {time.Second, 13}, {time.Minute, numLatencyBuckets}} {
		if got := latencyBucket(tc.d); got != tc.want {
			t.Errorf("latencyBucket(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
}
