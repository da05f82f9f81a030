package telemetry

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// StartLocal makes a call between colocated components (a local stub's
// direct call) an internal span, when it is made within a sampled trace:
// such a call is never the root of a trace, and outside one it costs a
// context lookup. It makes the Runtime a codegen.LocalTracer.
func (r *Runtime) StartLocal(ctx context.Context, component, method string) (context.Context, func(error)) {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ctx, endNothing
	}
	ctx, span := r.tracer.Start(ctx, component[strings.LastIndex(component, "/")+1:]+"."+method, trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(
		attribute.String("rpc.system", "pilotage"),
		attribute.String("rpc.service", component),
		attribute.String("rpc.method", method),
		attribute.Bool("pilotage.local", true),
	))
	return ctx, func(err error) {
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}

func endNothing(error) {}
