package coordination

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// cleanups are run once every benchmark is done: the shared fixtures (the
// app under "pilotage run", the embedded etcd) live across benchmarks.
var (
	cleanupMu sync.Mutex
	cleanups  []func()
)

func atExit(f func()) {
	cleanupMu.Lock()
	defer cleanupMu.Unlock()
	cleanups = append(cleanups, f)
}

func TestMain(m *testing.M) {
	code := m.Run()
	cleanupMu.Lock()
	for _, f := range slices.Backward(cleanups) {
		f()
	}
	cleanupMu.Unlock()
	os.Exit(code)
}

// report reports the samples' median and 99th percentile in milliseconds
// (nearest rank: with 20 samples, p99 is the largest), instead of ns/op.
func report(b *testing.B, samples []time.Duration) {
	b.Helper()
	if len(samples) == 0 {
		b.Fatal("no samples")
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	b.ReportMetric(ms(percentile(s, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(s, 99)), "p99-ms")
	b.ReportMetric(0, "ns/op")
	b.Logf("n=%d min %v p50 %v p99 %v max %v", len(s), s[0], percentile(s, 50), percentile(s, 99), s[len(s)-1])
	if len(s) > 1 && len(s) <= 50 {
		all := make([]string, len(s))
		for i, d := range s {
			all[i] = d.Round(100 * time.Microsecond).String()
		}
		b.Logf("samples: %s", strings.Join(all, " "))
	}
}

// percentile returns the p-th percentile of sorted, by nearest rank.
func percentile(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	return sorted[max(rank, 1)-1]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// minSamples is the number of samples a benchmark takes at least, unless
// -short: with the default -benchtime, one run of b.N = 1 already gives
// them, and a mechanism whose sample takes a minute is run once.
const minSamples = 20

// A sample is one measure, and a second figure some benchmarks take
// along (0 if none).
type sample struct{ d, extra time.Duration }

// collect returns the samples of a run of b: max(b.N, minSamples) of
// them (b.N with -short), taken by take(i) one after the other, or all at
// once if parallel; it fails b if one fails. The framework runs every
// benchmark with b.N = 1 before the b.N asked for (-benchtime=50x): the
// samples of that first run count as the next run's.
func collect[S any](b *testing.B, parallel bool, take func(i int) (S, error)) []S {
	b.Helper()
	want := b.N
	if !testing.Short() {
		want = max(want, minSamples)
	}
	probe.Lock()
	kept, _ := probe.samples.([]S)
	if probe.name != b.Name() || b.N == 1 {
		kept = nil
	}
	probe.name, probe.samples = "", nil
	probe.Unlock()
	if len(kept) > want {
		kept = kept[:want]
	}

	n := want - len(kept)
	samples := make([]S, n)
	errs := make([]error, n)
	if parallel {
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { samples[i], errs[i] = take(i) })
		}
		wg.Wait()
	} else {
		for i := range n {
			if samples[i], errs[i] = take(i); errs[i] != nil {
				break
			}
		}
	}
	for i, err := range errs {
		if err != nil {
			b.Fatalf("sample %d: %v", i, err)
		}
	}
	samples = append(samples, kept...)
	if b.N == 1 {
		probe.Lock()
		probe.name, probe.samples = b.Name(), samples
		probe.Unlock()
	}
	return samples
}

// probe holds the samples (a slice) of the last run with b.N = 1 (see
// collect).
var probe struct {
	sync.Mutex
	name    string
	samples any
}

// durations returns the samples' main measures.
func durations(samples []sample) []time.Duration {
	ds := make([]time.Duration, len(samples))
	for i, s := range samples {
		ds[i] = s.d
	}
	return ds
}

// extras returns the samples' second figures.
func extras(samples []sample) []time.Duration {
	ds := make([]time.Duration, len(samples))
	for i, s := range samples {
		ds[i] = s.extra
	}
	return ds
}

// reportSamples reports the samples' main measures (see report).
func reportSamples(b *testing.B, samples []sample) {
	b.Helper()
	report(b, durations(samples))
}

// settle is how long a sample waits after the first leader acts before
// it makes it go: the other candidates have queued up and are watching
// (or, client-go, have seen the Lease) by then, so that a sample times a
// failover, not the candidates' own start.
const settle = 200 * time.Millisecond

// phase is a random moment within one renewal period: a crash strikes at
// any point of the leader's renewal cycle, not just after a renewal.
func phase(renewEvery time.Duration) time.Duration {
	return rand.N(renewEvery)
}

// runID tells apart the elections of successive runs of a benchmark
// (b.N grows) on the shared stores.
var runSeq struct {
	sync.Mutex
	n int
}

func runID() string {
	runSeq.Lock()
	defer runSeq.Unlock()
	runSeq.n++
	return fmt.Sprintf("r%d", runSeq.n)
}

// A won is a candidate that started acting as leader, and when.
type won struct {
	candidate int
	at        time.Time
}

// next waits for a candidate other than loser to act, up to limit.
func next(ch <-chan won, loser int, limit time.Duration) (won, error) {
	timeout := time.After(limit)
	for {
		select {
		case w := <-ch:
			if w.candidate != loser {
				return w, nil
			}
		case <-timeout:
			return won{}, fmt.Errorf("no other candidate acted within %v", limit)
		}
	}
}
