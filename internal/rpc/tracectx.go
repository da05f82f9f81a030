package rpc

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/trace"
)

// Trace context on the wire (protocol version 5). A request whose caller's
// context holds a valid span context sets flagTraced in its header's first
// reserved byte, and its payload carries, between the 20-byte request
// prefix and the arguments:
//
//	offset size field
//	0      16   trace id
//	16     8    span id (of the caller's span: the server span's parent)
//	24     1    trace flags (bit 0: sampled)
//
// A request without a span context carries none of it, so untraced calls
// cost nothing on the wire nor in allocations.
const (
	flagTraced      byte = 1
	traceContextLen      = 25
)

// putTraceContext writes sc into b, which is traceContextLen bytes long.
func putTraceContext(b []byte, sc trace.SpanContext) {
	tid, sid := sc.TraceID(), sc.SpanID()
	copy(b[0:16], tid[:])
	copy(b[16:24], sid[:])
	b[24] = byte(sc.TraceFlags())
}

// splitTraceContext reads the trace context at the start of p and returns
// it with the rest of p, the arguments.
func splitTraceContext(p []byte) (trace.SpanContext, []byte, error) {
	if len(p) < traceContextLen {
		return trace.SpanContext{}, nil, fmt.Errorf("%w: traced request of %d bytes after its prefix is shorter than its %d-byte trace context", errProtocol, len(p), traceContextLen)
	}
	var tid trace.TraceID
	var sid trace.SpanID
	copy(tid[:], p[0:16])
	copy(sid[:], p[16:24])
	if p[24]&^byte(trace.FlagsSampled) != 0 {
		return trace.SpanContext{}, nil, fmt.Errorf("%w: unknown trace flags %#x", errProtocol, p[24])
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.TraceFlags(p[24]), Remote: true})
	if !sc.IsValid() {
		return trace.SpanContext{}, nil, fmt.Errorf("%w: traced request with a zero trace or span id", errProtocol)
	}
	return sc, p[traceContextLen:], nil
}

// servingContext is the root of every handler's context: Serving finds it,
// at the cost of a lookup and no allocation per call.
var servingContext = context.WithValue(context.Background(), servingKey{}, true)

type servingKey struct{}

// Serving reports whether ctx is (derived from) the context of a call this
// process serves. A call served without a trace context was not traced by
// its caller, so the calls it makes are not the roots of new traces.
func Serving(ctx context.Context) bool { return ctx.Value(servingKey{}) != nil }
