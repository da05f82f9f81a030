package telemetry

import (
	"context"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/pilotage/pilotage/internal/envelope"
)

// An Exporter sends spans to an OTLP/HTTP collector, in the background:
// a slow or absent collector never holds up the supervisor. Batches that
// do not fit its queue are dropped and counted.
type Exporter struct {
	client   otlptrace.Client
	resource []*commonpb.KeyValue // of every process: the app and its deployment
	queue    chan *tracepb.ResourceSpans
	dropped  atomic.Uint64
	logf     func(format string, args ...any)

	stop chan struct{}
	done sync.WaitGroup
}

// exportQueue is how many batches (one Spans message each) wait for the
// collector before new ones are dropped.
const exportQueue = 1024

// NewExporter starts exporting to endpoint ("http://host:4318"; spans are
// posted to its /v1/traces). logf reports failures.
func NewExporter(endpoint, app, deployment string, logf func(string, ...any)) (*Exporter, error) {
	client := otlptracehttp.NewClient(otlptracehttp.WithEndpointURL(strings.TrimSuffix(endpoint, "/")+"/v1/traces"), otlptracehttp.WithTimeout(10*time.Second))
	if err := client.Start(context.Background()); err != nil {
		return nil, fmt.Errorf("otlp exporter: %w", err)
	}
	e := &Exporter{
		client: client, logf: logf, queue: make(chan *tracepb.ResourceSpans, exportQueue), stop: make(chan struct{}),
		resource: []*commonpb.KeyValue{str("service.name", app), str("pilotage.deployment", deployment)},
	}
	e.done.Add(1)
	go e.run()
	return e, nil
}

func (e *Exporter) run() {
	defer e.done.Done()
	failing := false
	for {
		var batch []*tracepb.ResourceSpans
		select {
		case rs := <-e.queue:
			batch = append(batch, rs)
		case <-e.stop:
			// What is queued still goes, within the stop's bound.
			for {
				select {
				case rs := <-e.queue:
					batch = append(batch, rs)
					continue
				default:
				}
				break
			}
			if len(batch) > 0 {
				e.upload(batch, &failing)
			}
			return
		}
		for len(batch) < 64 {
			select {
			case rs := <-e.queue:
				batch = append(batch, rs)
				continue
			default:
			}
			break
		}
		e.upload(batch, &failing)
	}
}

func (e *Exporter) upload(batch []*tracepb.ResourceSpans, failing *bool) {
	err := e.client.UploadTraces(context.Background(), batch)
	switch {
	case err != nil && !*failing:
		e.logf("telemetry: exporting spans: %v (further failures are not reported until it works again)", err)
		*failing = true
	case err == nil && *failing:
		e.logf("telemetry: exporting spans works again")
		*failing = false
	}
}

// Export queues spans of replica for the collector.
func (e *Exporter) Export(replica string, spans []envelope.Span) {
	rs := resourceSpans(e.resource, replica, spans)
	select {
	case e.queue <- rs:
	default:
		e.dropped.Add(uint64(len(spans)))
	}
}

// Dropped is the number of spans dropped because the queue was full.
func (e *Exporter) Dropped() uint64 { return e.dropped.Load() }

// Close sends what is queued (within ctx) and stops.
func (e *Exporter) Close(ctx context.Context) error {
	close(e.stop)
	finished := make(chan struct{})
	go func() { e.done.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-ctx.Done():
	}
	return e.client.Stop(ctx)
}

// resourceSpans converts the spans one replica sent into OTLP's form.
func resourceSpans(resource []*commonpb.KeyValue, replica string, spans []envelope.Span) *tracepb.ResourceSpans {
	attrs := append(append([]*commonpb.KeyValue(nil), resource...), str("service.instance.id", replica))
	rs := &tracepb.ResourceSpans{Resource: &resourcepb.Resource{Attributes: attrs}}
	scopes := map[string]*tracepb.ScopeSpans{}
	for _, sp := range spans {
		ss := scopes[sp.Scope]
		if ss == nil {
			ss = &tracepb.ScopeSpans{Scope: &commonpb.InstrumentationScope{Name: sp.Scope}}
			scopes[sp.Scope] = ss
			rs.ScopeSpans = append(rs.ScopeSpans, ss)
		}
		ss.Spans = append(ss.Spans, otlpSpan(sp))
	}
	return rs
}

func otlpSpan(sp envelope.Span) *tracepb.Span {
	out := &tracepb.Span{
		TraceId:           unhex(sp.TraceID),
		SpanId:            unhex(sp.SpanID),
		ParentSpanId:      unhex(sp.ParentSpanID),
		Name:              sp.Name,
		Kind:              spanKind(sp.Kind),
		StartTimeUnixNano: uint64(sp.Start.UnixNano()),
		EndTimeUnixNano:   uint64(sp.End.UnixNano()),
		Attributes:        otlpAttrs(sp.Attrs),
	}
	switch sp.Status {
	case "ok":
		out.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_OK}
	case "error":
		out.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: sp.Message}
	}
	for _, ev := range sp.Events {
		out.Events = append(out.Events, &tracepb.Span_Event{Name: ev.Name, TimeUnixNano: uint64(ev.Time.UnixNano()), Attributes: otlpAttrs(ev.Attrs)})
	}
	return out
}

func unhex(s string) []byte {
	if s == "" {
		return nil
	}
	b, _ := hex.DecodeString(s) // the runtime writes hex; a bad id exports empty
	return b
}

func spanKind(k string) tracepb.Span_SpanKind {
	switch k {
	case "internal":
		return tracepb.Span_SPAN_KIND_INTERNAL
	case "server":
		return tracepb.Span_SPAN_KIND_SERVER
	case "client":
		return tracepb.Span_SPAN_KIND_CLIENT
	case "producer":
		return tracepb.Span_SPAN_KIND_PRODUCER
	case "consumer":
		return tracepb.Span_SPAN_KIND_CONSUMER
	}
	return tracepb.Span_SPAN_KIND_UNSPECIFIED
}

func otlpAttrs(attrs []envelope.Attr) []*commonpb.KeyValue {
	var out []*commonpb.KeyValue
	for _, a := range attrs {
		v := &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: a.Value}}
		switch a.Type {
		case "bool":
			if b, err := strconv.ParseBool(a.Value); err == nil {
				v.Value = &commonpb.AnyValue_BoolValue{BoolValue: b}
			}
		case "int64":
			if n, err := strconv.ParseInt(a.Value, 10, 64); err == nil {
				v.Value = &commonpb.AnyValue_IntValue{IntValue: n}
			}
		case "float64":
			if f, err := strconv.ParseFloat(a.Value, 64); err == nil {
				v.Value = &commonpb.AnyValue_DoubleValue{DoubleValue: f}
			}
		}
		out = append(out, &commonpb.KeyValue{Key: a.Key, Value: v})
	}
	return out
}

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}
