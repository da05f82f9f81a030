package rpc

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pilotage/pilotage/internal/resilience"
)

// BenchmarkPolicies measures 100-byte echo calls through a Pool with the
// resilience policies off, on (an adaptive limit on the server, outlier
// ejection and a retry budget in the pool), on with a deadline of the
// caller's (a context.WithTimeout), and on with the default deadline a
// proclet gives a call whose context has none (CallWithin), in the same
// run: the ratios are their cost on the hot path.
func BenchmarkPolicies(b *testing.B) {
	for _, variant := range []string{"off", "on", "on+deadline", "on+default"} {
		opts, popts := ServerOptions{MaxInFlight: func(string) int { return -1 }}, PoolOptions{Ejection: resilience.EjectionPolicy{After: -1}, RetryBudget: resilience.BudgetPolicy{Ratio: -1}}
		if variant != "off" {
			opts, popts = ServerOptions{}, PoolOptions{}
		}
		deadline := variant == "on+deadline"
		l, err := net.Listen("unix", filepath.Join(b.TempDir(), "s"))
		if err != nil {
			b.Fatal(err)
		}
		srv := NewServer(opts)
		if err := srv.Register(testComponent, newTestHandlers().handlers()); err != nil {
			b.Fatal(err)
		}
		go srv.Serve(l)
		pool := NewPool(popts, StaticResolver{Addrs: []string{"unix://" + l.Addr().String()}})
		args := encodeBytes(make([]byte, 100))
		for _, n := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/c%d", variant, n), func(b *testing.B) {
				b.ReportAllocs()
				var wg sync.WaitGroup
				per := b.N/n + 1
				for range n {
					wg.Go(func() {
						for range per {
							ctx, cancel := context.Background(), context.CancelFunc(func() {})
							if deadline {
								ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
							}
							var timeout time.Duration // the proclet's default
							if variant == "on+default" {
								timeout = 30 * time.Second
							}
							res, err := pool.CallWithin(ctx, testComponent, mEcho, args, true, timeout)
							cancel()
							if err != nil || len(res) != len(args) {
								b.Errorf("echo: %d bytes, %v", len(res), err)
								return
							}
						}
					})
				}
				wg.Wait()
			})
		}
		pool.Close()
		srv.Close()
	}
}
