package telemetry

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/pilotage/pilotage/codegen"
)

// A method is what the wrappers know of one method: its span's name and
// start options (made once, so that a traced call allocates only its
// span), and its counters.
type method struct {
	name  string
	start []trace.SpanStartOption
	stats *methodStats // nil without metrics
}

func (r *Runtime) methods(comp codegen.Component, side string, kind trace.SpanKind) []method {
	short := comp.Name[strings.LastIndex(comp.Name, "/")+1:]
	ms := make([]method, len(comp.Methods))
	for i, m := range comp.Methods {
		ms[i] = method{
			name: short + "." + m.Name,
			start: []trace.SpanStartOption{trace.WithSpanKind(kind), trace.WithAttributes(
				attribute.String("rpc.system", "pilotage"),
				attribute.String("rpc.service", comp.Name),
				attribute.String("rpc.method", m.Name),
			)},
		}
		if r.metrics != nil {
			ms[i].stats = r.metrics.method(comp.Name, m.Name, side)
		}
	}
	return ms
}

// Caller wraps next, the caller of comp's client stubs, so that each call
// is a client span (whose context the transport carries to the server)
// and is counted.
func (r *Runtime) Caller(comp codegen.Component, next codegen.Caller) codegen.Caller {
	if r == nil {
		return next
	}
	return &caller{r: r, next: next, methods: r.methods(comp, "client", trace.SpanKindClient)}
}

type caller struct {
	r       *Runtime
	next    codegen.Caller
	methods []method
}

func (c *caller) Call(ctx context.Context, m int, args []byte) ([]byte, error) {
	if m < 0 || m >= len(c.methods) { // the transport says what is wrong
		return c.next.Call(ctx, m, args)
	}
	meth := &c.methods[m]
	var span trace.Span
	if sctx, ok := c.r.start(ctx); ok {
		ctx, span = c.r.tracer.Start(sctx, meth.name, meth.start...)
	}
	st := meth.stats
	var t0 callStart
	if st != nil {
		t0 = st.begin()
	}
	res, err := c.next.Call(ctx, m, args)
	kind := ""
	if err != nil {
		kind = errorKind(err)
	}
	if st != nil {
		st.end(t0, len(args), len(res), kind)
	}
	if span != nil {
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
			span.SetAttributes(attribute.String("pilotage.error_kind", kind))
		}
		span.End()
	}
	return res, err
}

// Handlers wraps the server stub's handlers of comp, so that each call
// served is a server span (a child of the caller's, which the transport
// put in ctx) and is counted.
func (r *Runtime) Handlers(comp codegen.Component, hs []codegen.Handler) []codegen.Handler {
	if r == nil {
		return hs
	}
	methods := r.methods(comp, "server", trace.SpanKindServer)
	out := make([]codegen.Handler, len(hs))
	for i, h := range hs {
		if h == nil || i >= len(methods) {
			out[i] = h
			continue
		}
		meth := &methods[i]
		out[i] = func(ctx context.Context, args []byte, enc *codegen.Encoder) error {
			var span trace.Span
			if sctx, ok := r.start(ctx); ok {
				ctx, span = r.tracer.Start(sctx, meth.name, meth.start...)
			}
			st := meth.stats
			var t0 callStart
			if st != nil {
				t0 = st.begin()
			}
			err := h(ctx, args, enc)
			kind, failure := "", err
			switch {
			case err != nil:
				kind = errorKind(err)
			case enc.MethodError() != nil:
				kind, failure = kindApplication, enc.MethodError()
			}
			if st != nil {
				st.end(t0, len(args), enc.Size(), kind)
			}
			if span != nil {
				if failure != nil {
					span.SetStatus(codes.Error, failure.Error())
					span.SetAttributes(attribute.String("pilotage.error_kind", kind))
				}
				span.End()
			}
			return err
		}
	}
	return out
}
