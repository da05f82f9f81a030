package api

import "time"

// A TraceSummary describes one recent trace (GET /v2/traces).
type TraceSummary struct {
	TraceID   string        `json:"trace_id"`
	Root      string        `json:"root"` // the name of its root span, or of its earliest one
	Start     time.Time     `json:"start"`
	Duration  time.Duration `json:"duration"` // from its first span's start to its last span's end
	Spans     int           `json:"spans"`
	Errors    int           `json:"errors"`    // spans with an error status
	Processes []string      `json:"processes"` // the replicas its spans came from
}

// A Trace is every span the supervisor kept of one trace (GET
// /v2/traces/<id>), in start order.
type Trace struct {
	TraceID string      `json:"trace_id"`
	Spans   []TraceSpan `json:"spans"`
}

// A TraceSpan is one span of a Trace.
type TraceSpan struct {
	SpanID       string            `json:"span_id"`
	ParentSpanID string            `json:"parent_span_id,omitempty"`
	Name         string            `json:"name"`
	Kind         string            `json:"kind"`
	Replica      string            `json:"replica"` // the process it came from: "cart.Cart/0"
	Start        time.Time         `json:"start"`
	End          time.Time         `json:"end"`
	Status       string            `json:"status,omitempty"` // "", "ok", "error"
	Message      string            `json:"message,omitempty"`
	Attrs        map[string]string `json:"attrs,omitempty"`
}

// MethodStats are the figures of one component method, summed over its
// replicas (GET /v2/metrics): what "pilotage top" shows.
type MethodStats struct {
	Component string            `json:"component"`
	Method    string            `json:"method"`
	Side      string            `json:"side"` // "server" or "client"
	Calls     uint64            `json:"calls"`
	Errors    map[string]uint64 `json:"errors,omitempty"` // by kind
	InFlight  int64             `json:"in_flight"`
	// Latency counts calls per bucket of LatencyBuckets (seconds), the last
	// one above them all.
	Latency []uint64 `json:"latency"`
}

// ProcessStats are the figures of one replica.
type ProcessStats struct {
	Replica    string  `json:"replica"`
	CPUSeconds float64 `json:"cpu_seconds"`
	RSSBytes   uint64  `json:"rss_bytes"`
	Goroutines int     `json:"goroutines"`
}

// Metrics is the answer of GET /v2/metrics.
type Metrics struct {
	Time           time.Time      `json:"time"`
	LatencyBuckets []float64      `json:"latency_buckets"`
	Methods        []MethodStats  `json:"methods"`
	Processes      []ProcessStats `json:"processes"`
}
