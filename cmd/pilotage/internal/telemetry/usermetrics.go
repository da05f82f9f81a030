package telemetry

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pilotage/pilotage/internal/envelope"
)

// userCollector makes Prometheus metrics of the instruments the app's
// components made themselves (envelope.Metrics.User), each labelled with
// its attributes and the replica that recorded it. It is an unchecked
// collector (it describes nothing): the app decides its metrics' names.
// Names and attribute keys are made valid Prometheus names (a character
// outside [a-zA-Z0-9_] becomes "_"), and a counter's name ends in
// "_total". Of metrics that come out with one name but different kinds
// (two replicas of different builds), those of the kind of the first
// replica, by name, are served.
type userCollector struct{ m *Metrics }

func (userCollector) Describe(chan<- *prometheus.Desc) {}

// A userFamily is one user metric's points over every replica.
type userFamily struct {
	kind, help string
	keys       map[string]bool // of the points' attributes, as labels
	points     []userPoint
}

type userPoint struct {
	replica string
	labels  map[string]string
	envelope.UserPoint
}

func (c userCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	families := map[string]*userFamily{}
	for _, replica := range slices.Sorted(maps.Keys(c.m.byReplica)) { // the same choices at every scrape
		for _, um := range c.m.byReplica[replica].User {
			name := promName(um.Name, true)
			if um.Kind == "counter" && !strings.HasSuffix(name, "_total") {
				name += "_total"
			}
			f := families[name]
			if f == nil {
				f = &userFamily{kind: um.Kind, keys: map[string]bool{}}
				families[name] = f
			}
			if f.kind != um.Kind {
				continue
			}
			f.help = cmp.Or(f.help, um.Description) // the first replica's that has one
			for _, p := range um.Points {
				labels := map[string]string{}
				for _, a := range p.Attrs {
					k := promName(a.Key, false)
					if k == "replica" {
						k = "attr_replica"
					}
					labels[k] = a.Value
					f.keys[k] = true
				}
				f.points = append(f.points, userPoint{replica, labels, p})
			}
		}
	}
	c.m.mu.Unlock()
	for name, f := range families {
		keys := slices.Sorted(maps.Keys(f.keys))
		desc := prometheus.NewDesc(name, cmp.Or(f.help, name), append(slices.Clone(keys), "replica"), nil)
		for _, p := range f.points {
			values := make([]string, 0, len(keys)+1)
			for _, k := range keys {
				values = append(values, p.labels[k])
			}
			values = append(values, p.replica)
			var (
				m   prometheus.Metric
				err error
			)
			switch f.kind {
			case "counter":
				m, err = prometheus.NewConstMetric(desc, prometheus.CounterValue, p.Value, values...)
			case "gauge":
				m, err = prometheus.NewConstMetric(desc, prometheus.GaugeValue, p.Value, values...)
			case "histogram":
				m, err = prometheus.NewConstHistogram(desc, p.Count, p.Sum, cumulative(p.Bounds, p.Buckets), values...)
			default:
				continue
			}
			if err != nil {
				m = prometheus.NewInvalidMetric(desc, err) // the scrape reports it, and goes on
			}
			ch <- m
		}
	}
}

// promName makes s a valid Prometheus metric name, or label name (no
// colon, nor a leading "__", which Prometheus reserves).
func promName(s string, metric bool) string {
	b := []byte(s)
	for i, c := range b {
		ok := c == '_' || metric && c == ':' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9'
		if !ok {
			b[i] = '_'
		}
	}
	out := string(b)
	if !metric && strings.HasPrefix(out, "__") {
		out = "attr" + out
	}
	if out == "" {
		return "_"
	}
	return out
}
