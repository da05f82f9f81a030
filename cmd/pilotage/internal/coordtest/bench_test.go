package coordtest

import (
	"context"
	"testing"
	"time"

	"github.com/pilotage/pilotage/coord"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// benchStore connects a Store to the shared etcd for a benchmark.
func benchStore(b *testing.B) *coord.Store {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := coord.Connect(ctx, coord.Options{Endpoints: []string{sharedEtcd.endpoint()}, Prefix: "/bench/" + b.Name() + "/"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// benchClient is a plain etcd client of the shared etcd.
func benchClient(b *testing.B) *clientv3.Client {
	b.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{sharedEtcd.endpoint()}, DialTimeout: 5 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// BenchmarkLockUnlock: an uncontended acquire and release, with coord
// and with etcd's concurrency.Mutex on the same server.
func BenchmarkLockUnlock(b *testing.B) {
	ctx := context.Background()
	b.Run("coord", func(b *testing.B) {
		s := benchStore(b)
		for b.Loop() {
			l, err := s.Lock(ctx, "bench")
			if err != nil {
				b.Fatal(err)
			}
			if err := l.Unlock(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("etcd-mutex", func(b *testing.B) {
		c := benchClient(b)
		sess, err := concurrency.NewSession(c, concurrency.WithTTL(2))
		if err != nil {
			b.Fatal(err)
		}
		defer sess.Close()
		m := concurrency.NewMutex(sess, "/bench-mutex/"+b.Name())
		for b.Loop() {
			if err := m.Lock(ctx); err != nil {
				b.Fatal(err)
			}
			if err := m.Unlock(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkFencedPut: a put fenced by a held lock, against a plain etcd
// put (and a plain coord put) on the same server.
func BenchmarkFencedPut(b *testing.B) {
	ctx := context.Background()
	value := []byte("value")
	b.Run("coord-fenced", func(b *testing.B) {
		s := benchStore(b)
		l, err := s.Lock(ctx, "bench")
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := l.Put(ctx, "k", value); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("coord-plain", func(b *testing.B) {
		s := benchStore(b)
		for b.Loop() {
			if _, err := s.Put(ctx, "k", value); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("etcd-put", func(b *testing.B) {
		c := benchClient(b)
		for b.Loop() {
			if _, err := c.Put(ctx, "/bench-put/k", string(value)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
