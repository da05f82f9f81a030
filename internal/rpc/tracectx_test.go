package rpc

import (
	"context"
	"testing"

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
