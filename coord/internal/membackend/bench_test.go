package membackend_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/pilotage/pilotage/coord/internal/backend"
	"github.com/pilotage/pilotage/coord/internal/membackend"
)

var value = make([]byte, 64)

// BenchmarkTxnPut measures one-put transactions from one goroutine.
func BenchmarkTxnPut(b *testing.B) {
	s := membackend.New()
	defer s.Close()
	ctx := context.Background()
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("bench/%04d", i)
	}
	for i := 0; b.Loop(); i++ {
		if _, err := s.Txn(ctx, backend.Txn{Then: []backend.Op{{Kind: backend.OpPut, Key: keys[i%len(keys)], Value: value}}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTxnCAS measures compare-and-swap transactions (the shape of a
// fenced write) from parallel goroutines, each on its own key.
func BenchmarkTxnCAS(b *testing.B) {
	s := membackend.New()
	defer s.Close()
	ctx := context.Background()
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		key := fmt.Sprintf("cas/%d", n.Add(1))
		var rev int64
		for pb.Next() {
			res, err := s.Txn(ctx, backend.Txn{
				If:   []backend.Cmp{{Key: key, Field: backend.ModRevision, Revision: rev}},
				Then: []backend.Op{{Kind: backend.OpPut, Key: key, Value: value}},
			})
			if err != nil || !res.Succeeded {
				b.Errorf("cas: %+v, %v", res, err)
				return
			}
			rev = res.Revision
		}
	})
}

// BenchmarkWatch measures puts delivered to watchers: each op is one put
// and its arrival at every one of the watchers.
func BenchmarkWatch(b *testing.B) {
	for _, watchers := range []int{1, 10} {
		b.Run(fmt.Sprintf("watchers=%d", watchers), func(b *testing.B) {
			s := membackend.New()
			defer s.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan int, watchers)
			n := b.N
			for range watchers {
				w := s.Watch(ctx, "w/", true, 0)
				go func() {
					got := 0
					for got < n {
						resp, ok := <-w
						if !ok {
							break
						}
						got += len(resp.Events)
					}
					done <- got
				}()
			}
			b.ResetTimer()
			for range n {
				if _, err := s.Txn(ctx, backend.Txn{Then: []backend.Op{{Kind: backend.OpPut, Key: "w/k", Value: value}}}); err != nil {
					b.Fatal(err)
				}
			}
			for range watchers {
				if got := <-done; got != n {
					b.Fatalf("watcher got %d events, want %d", got, n)
				}
			}
		})
	}
}
