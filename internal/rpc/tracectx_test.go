package rpc

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/pilotage/pilotage/codegen"
)

// TestTraceContextCrossesTheWire checks that the handler runs under the
// caller's span context, as a remote parent, and that a call without one
// carries none.
func TestTraceContextCrossesTheWire(t *testing.T) {
	seen := make(chan trace.SpanContext, 1)
	ts := startServer(t, "unix", ServerOptions{})
	const traced = testComponent + "Traced"
	err := ts.srv.Register(traced, []codegen.Handler{func(ctx context.Context, _ []byte, _ *codegen.Encoder) error {
		seen <- trace.SpanContextFromContext(ctx)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	c := ts.dial(t, DialOptions{})

	want := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		SpanID:     trace.SpanID{8, 7, 6, 5, 4, 3, 2, 1},
		TraceFlags: trace.FlagsSampled,
	})
	for _, sc := range []trace.SpanContext{want, want.WithTraceFlags(0), {}} {
		ctx := trace.ContextWithSpanContext(context.Background(), sc)
		if _, err := c.Call(ctx, traced, 0, nil); err != nil {
			t.Fatal(err)
		}
		got := <-seen
		if sc.IsValid() {
			sc = sc.WithRemote(true)
		}
		if !got.Equal(sc) {
			t.Errorf("handler saw span context %+v, want %+v", got, sc)
		}
	}
}

// TestMalformedTraceContext checks that a malformed trace context, or the
// traced flag on a frame other than a request, is a protocol error.
func TestMalformedTraceContext(t *testing.T) {
	for _, tc := range [][]byte{
		make([]byte, traceContextLen-1), // short
		make([]byte, traceContextLen),   // zero ids
		append(make([]byte, 24), 0x80),  // unknown flag
	} {
		if _, _, err := splitTraceContext(tc); err == nil {
			t.Errorf("splitTraceContext(%x) = nil error", tc)
		}
	}
	var hdr [headerLen]byte
	putHeader(&hdr, frameResponse, 0, 1)
	hdr[1] = flagTraced
	if _, err := parseHeader(hdr[:], DefaultMaxFrameSize); err == nil {
		t.Error("a traced response header was accepted")
	}
}

// A call retried after its first try was interrupted makes a "retry" span,
// a child of the call's span: the server span of the failed try is a
// child of the call's span, that of the retry a child of the retry span.
func TestRetryIsASpan(t *testing.T) {
	a := startServer(t, "unix", ServerOptions{})
	b := startServer(t, "unix", ServerOptions{})
	const traced = testComponent + "Retried"
	var first atomic.Bool
	type seen struct {
		server *testServer
		sc     trace.SpanContext
	}
	calls := make(chan seen, 2)
	for _, ts := range []*testServer{a, b} {
		err := ts.srv.Register(traced, []codegen.Handler{func(ctx context.Context, _ []byte, _ *codegen.Encoder) error {
			calls <- seen{ts, trace.SpanContextFromContext(ctx)}
			if first.CompareAndSwap(false, true) {
				<-ctx.Done() // until its connection is dropped
			}
			return nil
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	pool := NewPool(PoolOptions{}, StaticResolver{Addrs: []string{a.poolAddr(), b.poolAddr()}})
	defer pool.Close()

	rec := tracetest.NewSpanRecorder()
	provider := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	ctx, call := provider.Tracer("test").Start(context.Background(), "Retried.Method", trace.WithSpanKind(trace.SpanKindClient))
	errc := make(chan error, 1)
	go func() {
		_, err := pool.Call(ctx, traced, 0, nil, true)
		errc <- err
	}()
	firstTry := <-calls
	killConns(firstTry.server.srv)
	if err := <-errc; err != nil {
		t.Fatalf("retried call: %v", err)
	}
	call.End()
	retryTry := <-calls

	var retry sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "retry" {
			retry = s
		}
	}
	if retry == nil {
		t.Fatalf("no retry span among %d spans", len(rec.Ended()))
	}
	if retry.Parent().SpanID() != call.SpanContext().SpanID() || retry.Status().Code != codes.Unset {
		t.Errorf("retry span: parent %s (want the call's, %s), status %v", retry.Parent().SpanID(), call.SpanContext().SpanID(), retry.Status())
	}
	attrs := map[attribute.Key]attribute.Value{}
	for _, kv := range retry.Attributes() {
		attrs[kv.Key] = kv.Value
	}
	if attrs["pilotage.attempt"].AsInt64() != 2 || attrs["server.address"].AsString() != retryTry.server.poolAddr() || !strings.Contains(attrs["pilotage.retry_after"].AsString(), "interrupted") {
		t.Errorf("retry span's attributes: %v", attrs)
	}
	if firstTry.sc.SpanID() != call.SpanContext().SpanID() {
		t.Errorf("the first try was served under span %s, want the call's %s", firstTry.sc.SpanID(), call.SpanContext().SpanID())
	}
	if retryTry.sc.SpanID() != retry.SpanContext().SpanID() || retryTry.server == firstTry.server {
		t.Errorf("the retry was served under span %s, want the retry span's %s, on the other server", retryTry.sc.SpanID(), retry.SpanContext().SpanID())
	}
}
