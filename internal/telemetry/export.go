package telemetry

import (
	"context"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/pilotage/pilotage/internal/envelope"
)

// An exporter hands the SDK's finished spans to the deployer.
type exporter struct {
	send func(envelope.Message) error
}

// maxSpansPerMessage keeps each Spans message well under the envelope's
// line limit.
const maxSpansPerMessage = 512

func (e *exporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	for len(spans) > 0 {
		n := min(len(spans), maxSpansPerMessage)
		m := envelope.Spans{Spans: make([]envelope.Span, n)}
		for i, s := range spans[:n] {
			m.Spans[i] = wireSpan(s)
		}
		if err := e.send(m); err != nil {
			return err
		}
		spans = spans[n:]
	}
	return nil
}

func (*exporter) Shutdown(context.Context) error { return nil }

func wireSpan(s sdktrace.ReadOnlySpan) envelope.Span {
	sc := s.SpanContext()
	w := envelope.Span{
		TraceID: sc.TraceID().String(),
		SpanID:  sc.SpanID().String(),
		Name:    s.Name(),
		Kind:    s.SpanKind().String(),
		Scope:   s.InstrumentationScope().Name,
		Start:   s.StartTime(),
		End:     s.EndTime(),
		Attrs:   wireAttrs(s.Attributes()),
	}
	if p := s.Parent(); p.IsValid() {
		w.ParentSpanID = p.SpanID().String()
	}
	switch st := s.Status(); st.Code {
	case codes.Ok:
		w.Status = "ok"
	case codes.Error:
		w.Status, w.Message = "error", st.Description
	}
	for _, ev := range s.Events() {
		w.Events = append(w.Events, envelope.Event{Name: ev.Name, Time: ev.Time, Attrs: wireAttrs(ev.Attributes)})
	}
	return w
}

func wireAttrs(kvs []attribute.KeyValue) []envelope.Attr {
	if len(kvs) == 0 {
		return nil
	}
	out := make([]envelope.Attr, len(kvs))
	for i, kv := range kvs {
		a := envelope.Attr{Key: string(kv.Key), Type: "string"}
		switch kv.Value.Type() {
		case attribute.BOOL:
			a.Type, a.Value = "bool", strconv.FormatBool(kv.Value.AsBool())
		case attribute.INT64:
			a.Type, a.Value = "int64", strconv.FormatInt(kv.Value.AsInt64(), 10)
		case attribute.FLOAT64:
			a.Type, a.Value = "float64", strconv.FormatFloat(kv.Value.AsFloat64(), 'g', -1, 64)
		case attribute.STRING:
			a.Value = kv.Value.AsString()
		default: // slices
			a.Value = kv.Value.Emit()
		}
		out[i] = a
	}
	return out
}
