package telemetry

import (
	"context"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/pilotage/pilotage/internal/envelope"
)

// userMeters is the meter provider the components' own instruments
// (otel.Meter) come from: a reader the runtime collects at each metrics
// report, whose points go with the runtime's figures to the deployer,
// which serves them with its own.
type userMeters struct {
	provider *sdkmetric.MeterProvider
	reader   *sdkmetric.ManualReader
}

func newUserMeters() *userMeters {
	reader := sdkmetric.NewManualReader() // cumulative, as Prometheus reads them
	return &userMeters{provider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)), reader: reader}
}

// collect returns the instruments' points now; nil if none was recorded.
func (u *userMeters) collect() []envelope.UserMetric {
	var rm metricdata.ResourceMetrics
	if err := u.reader.Collect(context.Background(), &rm); err != nil {
		return nil // the provider was shut down
	}
	var out []envelope.UserMetric
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			w := envelope.UserMetric{Name: m.Name, Description: m.Description, Unit: m.Unit}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				w.Kind, w.Points = sumKind(d.IsMonotonic), valuePoints(d.DataPoints)
			case metricdata.Sum[float64]:
				w.Kind, w.Points = sumKind(d.IsMonotonic), valuePoints(d.DataPoints)
			case metricdata.Gauge[int64]:
				w.Kind, w.Points = "gauge", valuePoints(d.DataPoints)
			case metricdata.Gauge[float64]:
				w.Kind, w.Points = "gauge", valuePoints(d.DataPoints)
			case metricdata.Histogram[int64]:
				w.Kind, w.Points = "histogram", histogramPoints(d.DataPoints)
			case metricdata.Histogram[float64]:
				w.Kind, w.Points = "histogram", histogramPoints(d.DataPoints)
			default: // exponential histograms and summaries: not carried
				continue
			}
			if len(w.Points) > 0 {
				out = append(out, w)
			}
		}
	}
	return out
}

func sumKind(monotonic bool) string {
	if monotonic {
		return "counter"
	}
	return "gauge"
}

func valuePoints[N int64 | float64](dps []metricdata.DataPoint[N]) []envelope.UserPoint {
	out := make([]envelope.UserPoint, len(dps))
	for i, dp := range dps {
		out[i] = envelope.UserPoint{Attrs: wireAttrs(dp.Attributes.ToSlice()), Value: float64(dp.Value)}
	}
	return out
}

func histogramPoints[N int64 | float64](dps []metricdata.HistogramDataPoint[N]) []envelope.UserPoint {
	out := make([]envelope.UserPoint, len(dps))
	for i, dp := range dps {
		out[i] = envelope.UserPoint{
			Attrs: wireAttrs(dp.Attributes.ToSlice()),
			Count: dp.Count, Sum: float64(dp.Sum), Bounds: dp.Bounds, Buckets: dp.BucketCounts,
		}
	}
	return out
}

func (u *userMeters) shutdown(ctx context.Context) error { return u.provider.Shutdown(ctx) }
