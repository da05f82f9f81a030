package transport

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/pilotage/pilotage/internal/envelope"
	"github.com/pilotage/pilotage/internal/telemetry"
)

// BenchmarkTelemetry measures what the runtime's telemetry costs on the
// echo: disabled (no Init.Telemetry), tracing sampled off, metrics only,
// metrics with 1 % and 100 % of traces; and gRPC-Go without and with its
// OpenTelemetry stats handlers (otelgrpc) at 1 % and 100 %. The runtime's
// spans and metrics are encoded as the envelope sends them (JSON), then
// dropped; gRPC's spans go to a batcher whose exporter drops them.
//
//	cd bench && go test -run '^$' -bench Telemetry -benchtime=2s -count=3 ./transport
func BenchmarkTelemetry(b *testing.B) {
	send := func(m envelope.Message) error {
		_, err := json.Marshal(m)
		return err
	}
	pilotage := func(cfg *envelope.Telemetry) func(*testing.B) (echoFunc, func()) {
		return func(b *testing.B) (echoFunc, func()) {
			tel, err := telemetry.Start(cfg, send)
			if err != nil {
				b.Fatal(err)
			}
			call, stop := pilotageEchoWith(b, tel)
			return call, func() { stop(); tel.Shutdown(context.Background()) }
		}
	}
	systems := []struct {
		name  string
		setup func(*testing.B) (echoFunc, func())
	}{
		{"pilotage/disabled", pilotage(nil)},
		{"pilotage/sampled-off", pilotage(&envelope.Telemetry{})},
		{"pilotage/metrics", pilotage(&envelope.Telemetry{Metrics: true})},
		{"pilotage/metrics+1%", pilotage(&envelope.Telemetry{Metrics: true, SampleRatio: 0.01})},
		{"pilotage/metrics+100%", pilotage(&envelope.Telemetry{Metrics: true, SampleRatio: 1})},
		{"grpc/plain", grpcEcho},
		{"grpc/otel-1%", grpcOtelEcho(0.01)},
		{"grpc/otel-100%", grpcOtelEcho(1)},
	}
	for _, sys := range systems {
		b.Run(sys.name, func(b *testing.B) {
			call, stop := sys.setup(b)
			defer stop()
			for _, callers := range []int{1, 64} {
				b.Run(fmt.Sprintf("100B/c%d", callers), func(b *testing.B) { runEcho(b, call, 100, callers) })
			}
		})
	}
}

// discard is a span exporter that drops what it is given.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// grpcOtelEcho is grpcEcho with otelgrpc's stats handlers on both ends,
// tracing ratio of new traces.
func grpcOtelEcho(ratio float64) func(*testing.B) (echoFunc, func()) {
	return func(b *testing.B) (echoFunc, func()) {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))), sdktrace.WithBatcher(discard{}))
		desc := grpc.ServiceDesc{
			ServiceName: "bench.Echo",
			HandlerType: (*any)(nil),
			Methods: []grpc.MethodDesc{{
				MethodName: "Echo",
				Handler: func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
					in := new(wrapperspb.BytesValue)
					if err := dec(in); err != nil {
						return nil, err
					}
					return wrapperspb.Bytes(in.Value), nil
				},
			}},
		}
		srv := grpc.NewServer(grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(tp))))
		srv.RegisterService(&desc, struct{}{})
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		go srv.Serve(l)
		cc, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(tp))))
		if err != nil {
			b.Fatal(err)
		}
		call := func(ctx context.Context, payload []byte) ([]byte, error) {
			out := new(wrapperspb.BytesValue)
			if err := cc.Invoke(ctx, "/bench.Echo/Echo", wrapperspb.Bytes(payload), out); err != nil {
				return nil, err
			}
			return out.Value, nil
		}
		return call, func() { cc.Close(); srv.Stop(); tp.Shutdown(context.Background()) }
	}
}
