// Package telemetrytest is what tests of pilotage's telemetry read it
// with: a real OTLP/HTTP trace endpoint (Collector), and Prometheus' own
// parser summing the metrics (Sums).
package telemetrytest

import (
	"encoding/hex"
	"io"
	"net/http"
	"sync"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// A Collector is an http.Handler that receives spans: it decodes the
// protobuf ExportTraceServiceRequests posted to /v1/traces, as a
// collector does, and keeps their spans.
type Collector struct {
	mu    sync.Mutex
	spans []Span
}

// A Span is one span received, with the replica that sent it.
type Span struct {
	Replica string // the resource's service.instance.id
	*tracepb.Span
}

func (c *Collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want POST /v1/traces of application/x-protobuf", http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(r.Body)
	var req coltracepb.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(body, &req)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	for _, rs := range req.ResourceSpans {
		replica := ""
		for _, kv := range rs.Resource.GetAttributes() {
			if kv.Key == "service.instance.id" {
				replica = kv.Value.GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				c.spans = append(c.spans, Span{replica, s})
			}
		}
	}
	c.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

// Trace returns the spans received of the trace with id (hex).
func (c *Collector) Trace(id string) []Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Span
	for _, s := range c.spans {
		if hex.EncodeToString(s.TraceId) == id {
			out = append(out, s)
		}
	}
	return out
}

// Roots returns the root spans received (those without a parent).
func (c *Collector) Roots() []Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Span
	for _, s := range c.spans {
		if len(s.ParentSpanId) == 0 {
			out = append(out, s)
		}
	}
	return out
}
