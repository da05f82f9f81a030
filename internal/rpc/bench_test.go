package rpc

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"
)

// BenchmarkEcho measures echo calls over a Unix socket, from small payloads
// to large ones that are read in growing steps.
func BenchmarkEcho(b *testing.B) {
	l, err := net.Listen("unix", filepath.Join(b.TempDir(), "s"))
	if err != nil {
		b.Fatal(err)
	}
	srv := NewServer(ServerOptions{})
	if err := srv.Register(testComponent, newTestHandlers().handlers()); err != nil {
		b.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Close()
	c, err := Dial(context.Background(), "unix", l.Addr().String(), DialOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()

	for _, size := range []int{100, 10 << 10, 1 << 20, 10 << 20} {
		callers := []int{1}
		if size <= 10<<10 {
			callers = append(callers, 16)
		}
		args := encodeBytes(make([]byte, size))
		for _, n := range callers {
			b.Run(fmt.Sprintf("%s/c%d", sizeName(size), n), func(b *testing.B) {
				b.SetBytes(int64(size))
				b.ReportAllocs()
				var wg sync.WaitGroup
				per := b.N/n + 1
				for range n {
					wg.Go(func() {
						for range per {
							res, err := c.Call(context.Background(), testComponent, mEcho, args)
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
	}
}

func sizeName(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}
