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

// BenchmarkLockUnlock: an uncontended acquire and release with coord and
// with etcd's concurrency.Mutex on the same server, interleaved in each
// iteration (one after the other in separate benchmarks, the second one
// meets another state of etcd's log and its fsyncs, and the ratio drifts
// by 2×). It reports each one's mean and their ratio.
func BenchmarkLockUnlock(b *testing.B) {
	ctx := context.Background()
	s := benchStore(b)
	c := benchClient(b)
	sess, err := concurrency.NewSession(c, concurrency.WithTTL(2))
	if err != nil {
		b.Fatal(err)
	}
	defer sess.Close()
	m := concurrency.NewMutex(sess, "/bench-mutex/"+b.Name())
	var ours, theirs time.Duration
	n := 0
	for b.Loop() {
		begin := time.Now()
		l, err := s.Lock(ctx, "bench")
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Unlock(ctx); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		if err := m.Lock(ctx); err != nil {
			b.Fatal(err)
		}
		if err := m.Unlock(ctx); err != nil {
			b.Fatal(err)
		}
		ours += mid.Sub(begin)
		theirs += time.Since(mid)
		n++
	}
	b.ReportMetric(float64(ours.Microseconds())/float64(n), "coord-µs/op")
	b.ReportMetric(float64(theirs.Microseconds())/float64(n), "etcd-mutex-µs/op")
	b.ReportMetric(float64(theirs)/float64(ours), "speed-vs-mutex")
}

// BenchmarkFencedPut: a put fenced by a held lock, a plain coord put and a
// plain etcd put on the same server, interleaved in each iteration (see
// BenchmarkLockUnlock). It reports each one's mean, and the fenced put's
// cost over etcd's.
func BenchmarkFencedPut(b *testing.B) {
	ctx := context.Background()
	value := []byte("value")
	s := benchStore(b)
	l, err := s.Lock(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	c := benchClient(b)
	var fenced, plain, etcd time.Duration
	n := 0
	for b.Loop() {
		t0 := time.Now()
		if _, err := l.Put(ctx, "fenced", value); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := s.Put(ctx, "plain", value); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if _, err := c.Put(ctx, "/bench-put/k", string(value)); err != nil {
			b.Fatal(err)
		}
		fenced, plain, etcd = fenced+t1.Sub(t0), plain+t2.Sub(t1), etcd+time.Since(t2)
		n++
	}
	b.ReportMetric(float64(fenced.Microseconds())/float64(n), "fenced-µs/op")
	b.ReportMetric(float64(plain.Microseconds())/float64(n), "coord-plain-µs/op")
	b.ReportMetric(float64(etcd.Microseconds())/float64(n), "etcd-put-µs/op")
	b.ReportMetric(float64(fenced)/float64(etcd), "fenced-vs-etcd-put")
}
