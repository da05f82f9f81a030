package appfs

import (
	"context"
	"testing"
	"time"

	"github.com/pilotage/pilotage/internal/graph"
)

// BenchmarkLsLong50Replicas measures "ls -l" of the replicas of a
// component at 50 replicas as the shell makes it: a List of the directory
// and a Stat of each child, from the watch cache. It also reports the
// first one, which waits for the cache to sync (first-ms).
func BenchmarkLsLong50Replicas(b *testing.B) {
	a := startApp(b, appSpec{name: "wide", config: "[run.components.\"w.W\"]\nreplicas = 50\n",
		desc: &graph.Graph{Components: []graph.Component{{Name: "example.com/wide/w.W", Refs: []string{}, Listeners: []string{}}}}})
	const dir = "/apps/wide/components/w.W/replicas"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lsLong := func(f *FS) {
		nodes, err := f.List(ctx, dir)
		if err != nil {
			b.Fatal(err)
		}
		if len(nodes) != 50 {
			b.Fatalf("%d replicas, want 50", len(nodes))
		}
		for _, n := range nodes {
			if _, err := f.Stat(ctx, n.Path); err != nil {
				b.Fatal(err)
			}
		}
	}
	f := newFS(b, a.root)
	start := time.Now()
	lsLong(f)
	first := time.Since(start)
	b.ResetTimer()
	for b.Loop() {
		lsLong(f)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/op")
	b.ReportMetric(float64(first.Nanoseconds())/1e6, "first-ms")
}
