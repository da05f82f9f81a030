package telemetrytest

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Sums parses a Prometheus text exposition with Prometheus' own parser
// and sums its figures over replicas, by "calls|errors|latency component
// method side", "kind component method kind", "goroutines" and "rss"
// (components by their short name: cart.Cart); and any other counter by
// its name and its labels but the replica: "shop_orders_total
// currency=EUR".
func Sums(exposition []byte) (map[string]float64, error) {
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(exposition))
	if err != nil {
		return nil, fmt.Errorf("parse metrics: %w", err)
	}
	out := map[string]float64{}
	label := func(m *dto.Metric, name string) string {
		for _, l := range m.Label {
			if l.GetName() == name {
				v := l.GetValue()
				return v[strings.LastIndex(v, "/")+1:]
			}
		}
		return ""
	}
	for name, f := range families {
		for _, m := range f.Metric {
			key := label(m, "component") + " " + label(m, "method") + " " + label(m, "side")
			switch name {
			case "pilotage_method_calls_total":
				out["calls "+key] += m.GetCounter().GetValue()
			case "pilotage_method_errors_total":
				out["errors "+key] += m.GetCounter().GetValue()
				out["kind "+label(m, "component")+" "+label(m, "method")+" "+label(m, "kind")] += m.GetCounter().GetValue()
			case "pilotage_method_latency_seconds":
				out["latency "+key] += float64(m.GetHistogram().GetSampleCount())
			case "pilotage_process_goroutines":
				out["goroutines"] += m.GetGauge().GetValue()
			case "pilotage_process_resident_memory_bytes":
				out["rss"] += m.GetGauge().GetValue()
			default:
				if f.GetType() == dto.MetricType_COUNTER {
					var labels []string
					for _, l := range m.Label {
						if l.GetName() != "replica" {
							labels = append(labels, l.GetName()+"="+l.GetValue())
						}
					}
					slices.Sort(labels)
					out[strings.TrimSpace(name+" "+strings.Join(labels, ","))] += m.GetCounter().GetValue()
				}
			}
		}
	}
	return out, nil
}
