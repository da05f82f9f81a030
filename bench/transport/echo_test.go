package transport

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/pilotage/pilotage/codegen"
	"github.com/pilotage/pilotage/internal/rpc"
	"github.com/pilotage/pilotage/internal/telemetry"
)

const echoComponent = "github.com/pilotage/pilotage/bench/transport.Echo"

// echoDesc describes the echo component as generated code registers it.
var echoDesc = codegen.Component{Interface: &codegen.Interface{Name: echoComponent, Methods: []codegen.Method{{Name: "Echo"}}}}

// connCaller calls the echo component over one connection, as a pool would.
type connCaller struct{ conn *rpc.Conn }

func (c connCaller) Call(ctx context.Context, m int, args []byte) ([]byte, error) {
	return c.conn.Call(ctx, echoComponent, m, args)
}

// echoFunc performs one echo call of payload and returns the echoed bytes.
type echoFunc func(ctx context.Context, payload []byte) ([]byte, error)

// pilotageEcho serves the echo component as generated code would: decode the
// argument, encode the result.
func pilotageEcho(b *testing.B) (echoFunc, func()) { return pilotageEchoWith(b, nil) }

// pilotageEchoWith is pilotageEcho with the runtime's telemetry tel (nil:
// none) around both ends, as the proclet wraps them.
func pilotageEchoWith(b *testing.B, tel *telemetry.Runtime) (echoFunc, func()) {
	srv := rpc.NewServer(rpc.ServerOptions{})
	err := srv.Register(echoComponent, tel.Handlers(echoDesc, []codegen.Handler{
		func(_ context.Context, args []byte, out *codegen.Encoder) error {
			var d codegen.Decoder
			d.Reset(args)
			p := d.Bytes()
			if err := d.Done(); err != nil {
				return err
			}
			out.Bytes(p)
			return nil
		},
	}))
	if err != nil {
		b.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(l)
	conn, err := rpc.Dial(context.Background(), "tcp", l.Addr().String(), rpc.DialOptions{})
	if err != nil {
		b.Fatal(err)
	}
	caller := tel.Caller(echoDesc, connCaller{conn})
	call := func(ctx context.Context, payload []byte) ([]byte, error) {
		enc := codegen.GetEncoder()
		enc.Bytes(payload)
		res, err := caller.Call(ctx, 0, enc.Data())
		codegen.PutEncoder(enc)
		if err != nil {
			return nil, err
		}
		var d codegen.Decoder
		d.Reset(res)
		out := d.Bytes()
		return out, d.Done()
	}
	return call, func() { conn.Close(); srv.Close() }
}

// grpcEcho serves the same echo as a unary gRPC method with the default
// (protobuf) codec.
func grpcEcho(b *testing.B) (echoFunc, func()) {
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
	srv := grpc.NewServer()
	srv.RegisterService(&desc, struct{}{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(l)
	cc, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
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
	return call, func() { cc.Close(); srv.Stop() }
}

func BenchmarkEcho(b *testing.B) {
	systems := []struct {
		name  string
		setup func(*testing.B) (echoFunc, func())
	}{
		{"pilotage", pilotageEcho},
		{"grpc", grpcEcho},
	}
	for _, sys := range systems {
		b.Run(sys.name, func(b *testing.B) {
			call, stop := sys.setup(b)
			defer stop()
			for _, size := range []struct {
				name string
				n    int
			}{{"100B", 100}, {"10KiB", 10 << 10}} {
				b.Run(size.name, func(b *testing.B) {
					for _, callers := range []int{1, 64} {
						b.Run(fmt.Sprintf("c%d", callers), func(b *testing.B) {
							runEcho(b, call, size.n, callers)
						})
					}
				})
			}
		})
	}
}

// runEcho makes b.N calls from callers goroutines and reports throughput and
// latency percentiles.
func runEcho(b *testing.B, call echoFunc, size, callers int) {
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(i)
	}
	ctx := context.Background()
	// Warm up connections, pools and buffers outside the measurement.
	for range 100 {
		if _, err := call(ctx, payload); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([][]time.Duration, callers)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for g := range callers {
		wg.Go(func() {
			mine := make([]time.Duration, 0, b.N/callers+1)
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				out, err := call(ctx, payload)
				mine = append(mine, time.Since(t0))
				if err != nil || len(out) != size {
					b.Errorf("echo: %d bytes, %v", len(out), err)
					return
				}
			}
			lat[g] = mine
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		return
	}
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))].Nanoseconds()) / 1e3 }
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "calls/s")
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}
