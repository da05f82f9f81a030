package telemetry

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/pilotage/pilotage/codegen"
	"github.com/pilotage/pilotage/internal/envelope"
)

// BenchmarkCallOverhead measures what the wrappers add to one call, client
// and server side, without a transport: the cost telemetry adds to every
// component call, by setting. Spans and metrics are encoded as the
// envelope sends them (JSON), then dropped.
//
//	go test -run '^$' -bench CallOverhead -count=5 ./internal/telemetry
func BenchmarkCallOverhead(b *testing.B) {
	send := func(m envelope.Message) error {
		_, err := json.Marshal(m)
		return err
	}
	for _, tc := range []struct {
		name string
		cfg  *envelope.Telemetry
	}{
		{"disabled", nil},
		{"sampled-off", &envelope.Telemetry{}},
		{"metrics", &envelope.Telemetry{Metrics: true}},
		{"metrics+1%", &envelope.Telemetry{Metrics: true, SampleRatio: 0.01}},
		{"metrics+100%", &envelope.Telemetry{Metrics: true, SampleRatio: 1}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			r, err := Start(tc.cfg, send)
			if err != nil {
				b.Fatal(err)
			}
			defer r.Shutdown(context.Background())
			hs := r.Handlers(testComponent, []codegen.Handler{func(_ context.Context, args []byte, out *codegen.Encoder) error {
				out.Bytes(args)
				return nil
			}, nil})
			// The client's next hop runs the server's handler under the
			// context the transport would give it.
			c := r.Caller(testComponent, callerFunc(func(ctx context.Context, m int, args []byte) ([]byte, error) {
				out := codegen.GetEncoder()
				defer codegen.PutEncoder(out)
				return nil, hs[m](serverContext(ctx), args, out)
			}))
			args := make([]byte, 100)
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.Call(ctx, 0, args); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

type callerFunc func(ctx context.Context, m int, args []byte) ([]byte, error)

func (f callerFunc) Call(ctx context.Context, m int, args []byte) ([]byte, error) {
	return f(ctx, m, args)
}
