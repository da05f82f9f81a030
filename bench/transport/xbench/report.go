package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/pilotage/pilotage/bench/transport/loadgen"
)

// report prints, per case, each system's medians and ranges over the
// rounds, and the first system's ratios to the others, computed round by
// round (each against the run beside it) before taking their median.
func report(w io.Writer, plan loadgen.Plan, systems []string, runs map[string][][]loadgen.Result, loads []string) {
	fmt.Fprintf(w, "%d rounds; %v warmup, %v measured per case; load (1-min avg, runnable/total) per run: %s\n\n",
		len(runs[systems[0]]), plan.Warmup, plan.Duration, strings.Join(loads, ", "))
	fmt.Fprintln(w, "| case | system | calls/s median (range) | p50 µs | p99 µs | allocs/call client + server |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for ci, c := range plan.Cases {
		for _, sys := range systems {
			rs := column(runs[sys], ci)
			fmt.Fprintf(w, "| %s × %d | %s | %s | %s | %s | %s + %s |\n", sizeName(c.Size), c.Callers, sys,
				stat(rs, loadgen.Result.CallsPerSec, "%.0f"),
				stat(rs, func(r loadgen.Result) float64 { return r.P50 }, "%.0f"),
				stat(rs, func(r loadgen.Result) float64 { return r.P99 }, "%.0f"),
				stat(rs, func(r loadgen.Result) float64 { return float64(r.ClientMallocs) / float64(r.Calls) }, "%.1f"),
				stat(rs, func(r loadgen.Result) float64 { return float64(r.ServerMallocs) / float64(r.Calls) }, "%.1f"))
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "| case | %s throughput ÷ peer | %s p50 ÷ peer |\n|---|---|---|\n", systems[0], systems[0])
	for ci, c := range plan.Cases {
		var thr, p50 []string
		for _, peer := range systems[1:] {
			a, b := column(runs[systems[0]], ci), column(runs[peer], ci)
			thr = append(thr, peer+" "+ratio(a, b, loadgen.Result.CallsPerSec))
			p50 = append(p50, peer+" "+ratio(a, b, func(r loadgen.Result) float64 { return r.P50 }))
		}
		fmt.Fprintf(w, "| %s × %d | %s | %s |\n", sizeName(c.Size), c.Callers, strings.Join(thr, "; "), strings.Join(p50, "; "))
	}
}

// column is case ci of every round.
func column(rounds [][]loadgen.Result, ci int) []loadgen.Result {
	out := make([]loadgen.Result, len(rounds))
	for r := range rounds {
		out[r] = rounds[r][ci]
	}
	return out
}

func stat(rs []loadgen.Result, f func(loadgen.Result) float64, format string) string {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	return medianRange(v, format)
}

// ratio is f(a)/f(b) round by round: median (range).
func ratio(a, b []loadgen.Result, f func(loadgen.Result) float64) string {
	v := make([]float64, len(a))
	for i := range a {
		v[i] = f(a[i]) / f(b[i])
	}
	return medianRange(v, "%.2f") + "×"
}

func medianRange(v []float64, format string) string {
	s := slices.Clone(v)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return fmt.Sprintf(format+" ("+format+"–"+format+")", m, s[0], s[len(s)-1])
}

func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}
