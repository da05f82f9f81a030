package telemetry

import (
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/pilotage/pilotage/internal/envelope"
)

// The app's own instruments are served with the runtime's figures: a
// counter as a Prometheus counter named *_total, a gauge, a histogram,
// each point labelled with its attributes and its replica.
func TestUserMetricsServed(t *testing.T) {
	m := NewMetrics()
	orders := envelope.UserMetric{Name: "shop.orders", Description: "Orders placed.", Kind: "counter", Points: []envelope.UserPoint{
		{Attrs: []envelope.Attr{{Key: "currency", Type: "string", Value: "EUR"}}, Value: 2},
		{Attrs: []envelope.Attr{{Key: "currency", Type: "string", Value: "USD"}}, Value: 1},
	}}
	m.Set("checkout/0", envelope.Metrics{User: []envelope.UserMetric{orders,
		{Name: "queue.depth", Kind: "gauge", Points: []envelope.UserPoint{{Value: 7}}},
		{Name: "basket.size", Kind: "histogram", Points: []envelope.UserPoint{{Count: 3, Sum: 9, Bounds: []float64{1, 5}, Buckets: []uint64{1, 1, 1}}}},
	}})
	m.Set("checkout/1", envelope.Metrics{User: []envelope.UserMetric{{Name: "shop.orders", Kind: "counter", Points: []envelope.UserPoint{{Value: 4}}}}})

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, rec.Body)
	}
	label := func(m *dto.Metric, name string) string {
		for _, l := range m.Label {
			if l.GetName() == name {
				return l.GetValue()
			}
		}
		return ""
	}
	f := families["shop_orders_total"]
	if f == nil || f.GetType() != dto.MetricType_COUNTER || f.GetHelp() != "Orders placed." {
		t.Fatalf("shop_orders_total: %v\n%s", f, rec.Body)
	}
	got := map[string]float64{}
	for _, mm := range f.Metric {
		got[label(mm, "replica")+" "+label(mm, "currency")] = mm.GetCounter().GetValue()
	}
	if want := map[string]float64{"checkout/0 EUR": 2, "checkout/0 USD": 1, "checkout/1 ": 4}; len(got) != len(want) || got["checkout/0 EUR"] != 2 || got["checkout/0 USD"] != 1 || got["checkout/1 "] != 4 {
		t.Errorf("shop_orders_total = %v, want %v", got, want)
	}
	if g := families["queue_depth"]; g == nil || g.GetType() != dto.MetricType_GAUGE || g.Metric[0].GetGauge().GetValue() != 7 {
		t.Errorf("queue_depth: %v", g)
	}
	h := families["basket_size"]
	if h == nil || h.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("basket_size: %v", h)
	}
	if hh := h.Metric[0].GetHistogram(); hh.GetSampleCount() != 3 || hh.GetSampleSum() != 9 || hh.Bucket[0].GetCumulativeCount() != 1 || hh.Bucket[1].GetCumulativeCount() != 2 {
		t.Errorf("basket_size = %v", hh)
	}
	if families["pilotage_process_goroutines"] == nil {
		t.Error("the runtime's own figures are not served beside them")
	}
}
