package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
)

func TestQuantile(t *testing.T) {
	bounds := []float64{0.001, 0.01, 0.1}
	for _, tc := range []struct {
		counts []uint64
		q      float64
		want   string
	}{
		{[]uint64{0, 0, 0, 0}, 0.5, "-"},
		{[]uint64{10, 0, 0, 0}, 0.5, "500µs"},
		{[]uint64{0, 10, 0, 0}, 0.5, "5.5ms"},
		{[]uint64{98, 0, 2, 0}, 0.99, "55ms"},
		{[]uint64{0, 0, 0, 3}, 0.99, ">100ms"},
	} {
		if got := quantile(bounds, tc.counts, tc.q); got != tc.want {
			t.Errorf("quantile(%v, %v) = %s, want %s", tc.counts, tc.q, got, tc.want)
		}
	}
}

func TestPrintTop(t *testing.T) {
	t0 := time.Now()
	prev := &api.Metrics{Time: t0, LatencyBuckets: []float64{0.001, 0.01}, Methods: []api.MethodStats{{Component: "x/cart.Cart", Method: "Add", Side: "server", Calls: 10, Latency: []uint64{10, 0, 0}}}}
	cur := &api.Metrics{Time: t0.Add(2 * time.Second), LatencyBuckets: prev.LatencyBuckets,
		Methods:   []api.MethodStats{{Component: "x/cart.Cart", Method: "Add", Side: "server", Calls: 30, Errors: map[string]uint64{"application": 5}, InFlight: 1, Latency: []uint64{10, 20, 0}}},
		Processes: []api.ProcessStats{{Replica: "cart.Cart/0", CPUSeconds: 1, RSSBytes: 10 << 20, Goroutines: 12}}}
	var b strings.Builder
	if err := printTop(&b, prev, cur); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"cart.Cart.Add", "10.0", "25.0%", "5.5ms", "cart.Cart/0", "50.0%", "10.0 MiB", "12"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
}
