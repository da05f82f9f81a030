package telemetry

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/pilotage/pilotage/codegen"
	"github.com/pilotage/pilotage/internal/envelope"
)

// A call through a local stub (colocated components) is an internal span
// within a sampled trace, a child of the caller's span, with the call's
// error; outside a trace, and once the runtime stopped, it is none.
func TestLocalCallsAreSpans(t *testing.T) {
	var mu sync.Mutex
	var spans []envelope.Span
	r, err := Start(&envelope.Telemetry{SampleRatio: 1}, func(m envelope.Message) error {
		if s, ok := m.(envelope.Spans); ok {
			mu.Lock()
			spans = append(spans, s.Spans...)
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, parent := r.tracer.Start(context.Background(), "GET /cart")
	lctx, end := codegen.StartLocal(ctx, "example.com/shop/cart.Cart", "Add")
	if lctx == ctx {
		t.Error("a local call within a trace got no span of its own")
	}
	end(errors.New("out of stock"))
	parent.End()
	if untraced, end := codegen.StartLocal(context.Background(), "example.com/shop/cart.Cart", "Add"); untraced != context.Background() {
		t.Error("a local call outside any trace got a span")
	} else {
		end(nil)
	}
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if after, _ := codegen.StartLocal(ctx, "example.com/shop/cart.Cart", "Add"); after != ctx {
		t.Error("a local call made a span after the runtime stopped")
	}
	mu.Lock()
	defer mu.Unlock()
	var local *envelope.Span
	for i := range spans {
		if spans[i].Name == "cart.Cart.Add" {
			local = &spans[i]
		}
	}
	if local == nil {
		t.Fatalf("no span cart.Cart.Add among %+v", spans)
	}
	if local.Kind != "internal" || local.ParentSpanID != parent.SpanContext().SpanID().String() || local.Status != "error" || local.Message != "out of stock" {
		t.Errorf("local call's span = %+v", *local)
	}
}
