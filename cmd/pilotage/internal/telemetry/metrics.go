package telemetry

import (
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/internal/envelope"
)

// Metrics holds the latest figures each replica sent. A replica's
// counters are cumulative since its process started; a new process in
// the same slot starts them again from zero, which Prometheus reads as a
// counter reset.
type Metrics struct {
	mu        sync.Mutex
	byReplica map[string]envelope.Metrics
	registry  *prometheus.Registry
}

// NewMetrics returns an empty set of metrics.
func NewMetrics() *Metrics {
	m := &Metrics{byReplica: map[string]envelope.Metrics{}, registry: prometheus.NewRegistry()}
	m.registry.MustRegister(collector{m})
	return m
}

// Set records the figures replica sent.
func (m *Metrics) Set(replica string, v envelope.Metrics) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.byReplica[replica] = v
}

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

var (
	methodLabels = []string{"component", "method", "side", "replica"}
	descCalls    = prometheus.NewDesc("pilotage_method_calls_total", "Calls of a component method that ended, by side (server: served by this replica; client: made by it).", methodLabels, nil)
	descErrors   = prometheus.NewDesc("pilotage_method_errors_total", "Calls of a component method that failed, by kind of error.", append(slices.Clone(methodLabels), "kind"), nil)
	descInFlight = prometheus.NewDesc("pilotage_method_in_flight", "Calls of a component method in progress.", methodLabels, nil)
	descReqBytes = prometheus.NewDesc("pilotage_method_request_bytes_total", "Encoded arguments of a component method's calls, in bytes.", methodLabels, nil)
	descRepBytes = prometheus.NewDesc("pilotage_method_reply_bytes_total", "Encoded results of a component method's calls, in bytes.", methodLabels, nil)
	descLatency  = prometheus.NewDesc("pilotage_method_latency_seconds", "Duration of a component method's calls.", methodLabels, nil)
	descCPU      = prometheus.NewDesc("pilotage_process_cpu_seconds_total", "User and system CPU time of a replica's process.", []string{"replica"}, nil)
	descRSS      = prometheus.NewDesc("pilotage_process_resident_memory_bytes", "Resident memory of a replica's process.", []string{"replica"}, nil)
	descGoros    = prometheus.NewDesc("pilotage_process_goroutines", "Goroutines of a replica's process.", []string{"replica"}, nil)
)

// collector makes Prometheus metrics of the latest figures, at each scrape.
type collector struct{ m *Metrics }

func (collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCalls, descErrors, descInFlight, descReqBytes, descRepBytes, descLatency, descCPU, descRSS, descGoros} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	for replica, v := range c.m.byReplica {
		for _, mm := range v.Methods {
			lv := []string{mm.Component, mm.Method, mm.Side, replica}
			ch <- prometheus.MustNewConstMetric(descCalls, prometheus.CounterValue, float64(mm.Calls), lv...)
			for kind, n := range mm.Errors {
				ch <- prometheus.MustNewConstMetric(descErrors, prometheus.CounterValue, float64(n), append(slices.Clone(lv), kind)...)
			}
			ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(mm.InFlight), lv...)
			ch <- prometheus.MustNewConstMetric(descReqBytes, prometheus.CounterValue, float64(mm.RequestBytes), lv...)
			ch <- prometheus.MustNewConstMetric(descRepBytes, prometheus.CounterValue, float64(mm.ReplyBytes), lv...)
			buckets := map[float64]uint64{}
			var cum uint64
			for i, bound := range envelope.LatencyBuckets {
				if i < len(mm.Latency) {
					cum += mm.Latency[i]
				}
				buckets[bound] = cum
			}
			ch <- prometheus.MustNewConstHistogram(descLatency, mm.Calls, mm.LatencySum, buckets, lv...)
		}
		p := v.Process
		ch <- prometheus.MustNewConstMetric(descCPU, prometheus.CounterValue, p.CPUSeconds, replica)
		ch <- prometheus.MustNewConstMetric(descRSS, prometheus.GaugeValue, float64(p.RSSBytes), replica)
		ch <- prometheus.MustNewConstMetric(descGoros, prometheus.GaugeValue, float64(p.Goroutines), replica)
	}
}

// Snapshot sums each method's figures over the replicas, for "pilotage top".
func (m *Metrics) Snapshot() api.Metrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := api.Metrics{Time: time.Now(), LatencyBuckets: envelope.LatencyBuckets}
	type key struct{ component, method, side string }
	sums := map[key]*api.MethodStats{}
	for replica, v := range m.byReplica {
		for _, mm := range v.Methods {
			k := key{mm.Component, mm.Method, mm.Side}
			s := sums[k]
			if s == nil {
				s = &api.MethodStats{Component: mm.Component, Method: mm.Method, Side: mm.Side, Latency: make([]uint64, len(envelope.LatencyBuckets)+1)}
				sums[k] = s
			}
			s.Calls += mm.Calls
			s.InFlight += mm.InFlight
			for kind, n := range mm.Errors {
				if s.Errors == nil {
					s.Errors = map[string]uint64{}
				}
				s.Errors[kind] += n
			}
			for i := range min(len(mm.Latency), len(s.Latency)) {
				s.Latency[i] += mm.Latency[i]
			}
		}
		p := v.Process
		out.Processes = append(out.Processes, api.ProcessStats{Replica: replica, CPUSeconds: p.CPUSeconds, RSSBytes: p.RSSBytes, Goroutines: p.Goroutines})
	}
	for _, s := range sums {
		out.Methods = append(out.Methods, *s)
	}
	sort.Slice(out.Methods, func(i, j int) bool {
		a, b := out.Methods[i], out.Methods[j]
		if a.Component != b.Component {
			return a.Component < b.Component
		}
		if a.Method != b.Method {
			return a.Method < b.Method
		}
		return a.Side > b.Side // server first
	})
	sort.Slice(out.Processes, func(i, j int) bool { return out.Processes[i].Replica < out.Processes[j].Replica })
	return out
}
