// Package loadgen is the closed-loop load of the cross-process transport
// benchmark: the same callers, timing and percentiles for every system
// compared (pilotage, gRPC-Go, the raw TCP floor), run in the client
// process of each.
package loadgen

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A Call echoes payload as caller number caller (0 ≤ caller < callers) and
// returns the bytes that came back.
type Call func(ctx context.Context, caller int, payload []byte) ([]byte, error)

// A Case is one measurement: callers closed-loop callers echoing payloads of
// Size bytes.
type Case struct {
	Size    int
	Callers int
}

// A Plan is what one client process measures, in order.
type Plan struct {
	Cases    []Case
	Warmup   time.Duration // per case, not measured
	Duration time.Duration // per case, measured
}

// ParsePlan reads "100x1,100x64,10240x1" (size x callers, comma-separated).
func ParsePlan(cases string, warmup, duration time.Duration) (Plan, error) {
	p := Plan{Warmup: warmup, Duration: duration}
	for _, c := range strings.Split(cases, ",") {
		size, callers, ok := strings.Cut(strings.TrimSpace(c), "x")
		s, err1 := strconv.Atoi(size)
		n, err2 := strconv.Atoi(callers)
		if !ok || err1 != nil || err2 != nil || s < 0 || n < 1 {
			return Plan{}, fmt.Errorf("loadgen: bad case %q: want SIZExCALLERS", c)
		}
		p.Cases = append(p.Cases, Case{Size: s, Callers: n})
	}
	return p, nil
}

// The environment that passes a plan to a client process.
const (
	envCases    = "ECHOBENCH_PLAN"
	envWarmup   = "ECHOBENCH_WARMUP"
	envDuration = "ECHOBENCH_DURATION"
)

// Environ returns the variables that pass p to a client process, which
// reads them with PlanFromEnv.
func (p Plan) Environ() []string {
	return []string{envCases + "=" + p.String(), envWarmup + "=" + p.Warmup.String(), envDuration + "=" + p.Duration.String()}
}

// PlanFromEnv reads the plan Environ passed.
func PlanFromEnv() (Plan, error) {
	warmup, err1 := time.ParseDuration(os.Getenv(envWarmup))
	duration, err2 := time.ParseDuration(os.Getenv(envDuration))
	if err1 != nil || err2 != nil {
		return Plan{}, fmt.Errorf("loadgen: %s and %s must be durations", envWarmup, envDuration)
	}
	return ParsePlan(os.Getenv(envCases), warmup, duration)
}

// String is the plan's cases as ParsePlan reads them.
func (p Plan) String() string {
	var b strings.Builder
	for i, c := range p.Cases {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%dx%d", c.Size, c.Callers)
	}
	return b.String()
}

// A Result is one case's measurement.
type Result struct {
	Case
	Calls         int     // completed in the measured window
	Seconds       float64 // length of the window
	P50, P99      float64 // latency, µs
	ClientMallocs uint64  // heap allocations of the client process in the window
	ServerMallocs uint64  // of the server process, if it reports them
}

// CallsPerSec is the throughput.
func (r Result) CallsPerSec() float64 { return float64(r.Calls) / r.Seconds }

// resultPrefix marks a result line in a process's output.
const resultPrefix = "LOADGEN-RESULT "

// Run measures every case of plan. serverMallocs, if not nil, returns the
// server process's heap allocation count.
func Run(ctx context.Context, plan Plan, call Call, serverMallocs func(context.Context) (uint64, error)) ([]Result, error) {
	var out []Result
	for _, c := range plan.Cases {
		r, err := runCase(ctx, plan, c, call, serverMallocs)
		if err != nil {
			return out, fmt.Errorf("loadgen: %d bytes × %d callers: %w", c.Size, c.Callers, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func runCase(ctx context.Context, plan Plan, c Case, call Call, serverMallocs func(context.Context) (uint64, error)) (Result, error) {
	payload := make([]byte, c.Size)
	for i := range payload {
		payload[i] = byte(i)
	}
	var measuring, stop atomic.Bool
	lat := make([][]time.Duration, c.Callers)
	errs := make([]error, c.Callers)
	var wg sync.WaitGroup
	for g := range c.Callers {
		wg.Go(func() {
			var mine []time.Duration
			for !stop.Load() {
				t0 := time.Now()
				got, err := call(ctx, g, payload)
				d := time.Since(t0)
				if err == nil && len(got) != len(payload) {
					err = fmt.Errorf("echo returned %d bytes, sent %d", len(got), len(payload))
				}
				if err != nil {
					errs[g] = err
					stop.Store(true)
					return
				}
				if measuring.Load() {
					mine = append(mine, d)
				}
			}
			lat[g] = mine
		})
	}
	time.Sleep(plan.Warmup)
	var srv0, srv1 uint64
	var err error
	if serverMallocs != nil {
		if srv0, err = serverMallocs(ctx); err != nil {
			stop.Store(true)
			wg.Wait()
			return Result{}, err
		}
	}
	runtime.GC() // the window pays for its own garbage, not the warmup's
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	start := time.Now()
	measuring.Store(true)
	time.Sleep(plan.Duration)
	measuring.Store(false)
	elapsed := time.Since(start)
	runtime.ReadMemStats(&m1)
	if serverMallocs != nil {
		srv1, err = serverMallocs(ctx)
	}
	stop.Store(true)
	wg.Wait()
	for _, e := range errs {
		if e != nil {
			return Result{}, e
		}
	}
	if err != nil {
		return Result{}, err
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		return Result{}, fmt.Errorf("no call completed in %v", plan.Duration)
	}
	return Result{
		Case: c, Calls: len(all), Seconds: elapsed.Seconds(),
		P50: percentile(all, 0.50), P99: percentile(all, 0.99),
		ClientMallocs: m1.Mallocs - m0.Mallocs, ServerMallocs: srv1 - srv0,
	}, nil
}

// percentile of sorted, by nearest rank, in µs.
func percentile(sorted []time.Duration, p float64) float64 {
	return float64(sorted[int(p*float64(len(sorted)-1))].Nanoseconds()) / 1e3
}

// Print writes results as result lines, which ReadResults finds in a
// process's output among other lines.
func Print(w io.Writer, results []Result) error {
	for _, r := range results {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "%s%s\n", resultPrefix, b); err != nil {
			return err
		}
	}
	return nil
}

// ReadResults returns the results printed in output. A line may carry a
// prefix before the marker (a supervisor's log prefix).
func ReadResults(output string) ([]Result, error) {
	var out []Result
	sc := bufio.NewScanner(strings.NewReader(output))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		_, js, ok := strings.Cut(sc.Text(), resultPrefix)
		if !ok {
			continue
		}
		var r Result
		if err := json.Unmarshal([]byte(js), &r); err != nil {
			return nil, fmt.Errorf("loadgen: bad result line %q: %w", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}

// Mallocs is this process's heap allocation count, for a server to report.
func Mallocs() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}
