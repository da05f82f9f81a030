package telemetry

import (
	"context"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/pilotage/pilotage/internal/envelope"
)

// A component's own instruments, made with otel.Meter, are reported with
// the runtime's figures: each with its kind and a point per attribute
// set, cumulative.
func TestUserMetricsReported(t *testing.T) {
	var mu sync.Mutex
	var last envelope.Metrics
	r, err := Start(&envelope.Telemetry{Metrics: true}, func(m envelope.Message) error {
		if m, ok := m.(envelope.Metrics); ok {
			mu.Lock()
			last = m
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	meter := otel.Meter("example.com/shop/checkout")
	orders, err := meter.Int64Counter("shop.orders", metric.WithDescription("Orders placed."))
	if err != nil {
		t.Fatal(err)
	}
	size, err := meter.Float64Histogram("shop.basket", metric.WithExplicitBucketBoundaries(1, 5))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	orders.Add(ctx, 2, metric.WithAttributes(attribute.String("currency", "EUR")))
	orders.Add(ctx, 1, metric.WithAttributes(attribute.String("currency", "EUR")))
	orders.Add(ctx, 1, metric.WithAttributes(attribute.String("currency", "USD")))
	size.Record(ctx, 3)
	if err := r.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	byName := map[string]envelope.UserMetric{}
	for _, m := range last.User {
		byName[m.Name] = m
	}
	o := byName["shop.orders"]
	values := map[string]float64{}
	for _, p := range o.Points {
		if len(p.Attrs) == 1 {
			values[p.Attrs[0].Value] = p.Value
		}
	}
	if o.Kind != "counter" || o.Description != "Orders placed." || values["EUR"] != 3 || values["USD"] != 1 {
		t.Errorf("shop.orders = %+v", o)
	}
	b := byName["shop.basket"]
	if b.Kind != "histogram" || len(b.Points) != 1 || b.Points[0].Count != 1 || b.Points[0].Sum != 3 || len(b.Points[0].Buckets) != 3 || b.Points[0].Buckets[1] != 1 {
		t.Errorf("shop.basket = %+v", b)
	}
	// After Shutdown, otel.Meter is a no-op again: nothing records into a
	// provider that is gone.
	if _, ok := otel.GetMeterProvider().(interface{ Shutdown(context.Context) error }); ok {
		t.Error("the meter provider of a stopped runtime is still the global one")
	}
}
