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
	m.registry.MustRegister(collector{m}, userCollector{m})
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
			ch <- prometheus.MustNewConstHistogram(descLatency, mm.Calls, mm.LatencySum, cumulative(envelope.LatencyBuckets, mm.Latency), lv...)
		}
		p := v.Process
		ch <- prometheus.MustNewConstMetric(descCPU, prometheus.CounterValue, p.CPUSeconds, replica)
		ch <- prometheus.MustNewConstMetric(descRSS, prometheus.GaugeValue, float64(p.RSSBytes), replica)
		ch <- prometheus.MustNewConstMetric(descGoros, prometheus.GaugeValue, float64(p.Goroutines), replica)
	}
}

// cumulative returns Prometheus' buckets of a histogram that counts[i]
// values fell in the bucket of bounds[i] (above bounds[i-1]): by upper
// bound, the values at most that.
func cumulative(bounds []float64, counts []uint64) map[float64]uint64 {
	buckets := make(map[float64]uint64, len(bounds))
	var cum uint64
	for i, bound := range bounds {
		if i < len(counts) {
			cum += counts[i]
		}
		buckets[bound] = cum
	}
	return buckets
}

// Snapshot sums each method's figures over the replicas, for "pilotage top".
func (m *Metrics) Snapshot() api.Metrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	var sum methodSums
	var procs []api.ProcessStats
	for replica, v := range m.byReplica {
		for _, mm := range v.Methods {
			sum.add(api.MethodStats{Component: mm.Component, Method: mm.Method, Side: mm.Side, Calls: mm.Calls, Errors: mm.Errors, InFlight: mm.InFlight, Latency: mm.Latency})
		}
		p := v.Process
		procs = append(procs, api.ProcessStats{Replica: replica, CPUSeconds: p.CPUSeconds, RSSBytes: p.RSSBytes, Goroutines: p.Goroutines})
	}
	return sum.metrics(time.Now(), procs)
}

// SumMetrics adds up the figures of several sources (the pods of an app
// on Kubernetes), as of the latest of their times.
func SumMetrics(ms []api.Metrics) api.Metrics {
	var sum methodSums
	var procs []api.ProcessStats
	var latest time.Time
	for _, m := range ms {
		for _, mm := range m.Methods {
			sum.add(mm)
		}
		procs = append(procs, m.Processes...)
		if m.Time.After(latest) {
			latest = m.Time
		}
	}
	return sum.metrics(latest, procs)
}

// methodSums adds up the figures of each component method.
type methodSums map[methodKey]*api.MethodStats

type methodKey struct{ component, method, side string }

func (s *methodSums) add(mm api.MethodStats) {
	if *s == nil {
		*s = methodSums{}
	}
	k := methodKey{mm.Component, mm.Method, mm.Side}
	sum := (*s)[k]
	if sum == nil {
		sum = &api.MethodStats{Component: mm.Component, Method: mm.Method, Side: mm.Side, Latency: make([]uint64, len(envelope.LatencyBuckets)+1)}
		(*s)[k] = sum
	}
	sum.Calls += mm.Calls
	sum.InFlight += mm.InFlight
	for kind, n := range mm.Errors {
		if sum.Errors == nil {
			sum.Errors = map[string]uint64{}
		}
		sum.Errors[kind] += n
	}
	for i := range min(len(mm.Latency), len(sum.Latency)) {
		sum.Latency[i] += mm.Latency[i]
	}
}

// metrics returns the sums, in order (server side first), with procs.
func (s methodSums) metrics(at time.Time, procs []api.ProcessStats) api.Metrics {
	out := api.Metrics{Time: at, LatencyBuckets: envelope.LatencyBuckets, Processes: procs}
	for _, sum := range s {
		out.Methods = append(out.Methods, *sum)
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
