package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/deploy"
)

func tracesCmd() *command {
	var (
		q control.TraceQuery
		k onKube
	)
	return &command{
		name:  "traces",
		usage: "[--slowest] [--errors] [-n N] [app] | --kube [--context C] [--namespace N] ... app",
		short: "list an app's recent traces",
		long: `Traces lists the recent traces the supervisor of "pilotage run" keeps in
memory ([telemetry] max_traces, 1000 by default): one per request or call
that began a trace, with its start, duration, spans, error spans, root
span and the processes it crossed; most recent first. "pilotage trace ID"
shows one, "pilotage logs --trace ID" its log lines.

` + appLookupHelp("") + `

` + kubeTelemetryHelp,
		flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&q.Slowest, "slowest", false, "longest first")
			fs.BoolVar(&q.Errors, "errors", false, "only traces with an error")
			fs.IntVar(&q.Limit, "n", 20, "at most `N` traces (0: all)")
			k.flags(fs, "list the traces of the app deployed to Kubernetes")
		},
		run: func(_ *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
			if q.Limit < 0 {
				return fmt.Errorf("-n %d: want a count (0: all)", q.Limit)
			}
			if k.set() {
				app, err := kubeApp(args)
				if err != nil {
					return err
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				ts, err := deploy.Traces(ctx, k.Target, app, q, stderr)
				if err != nil {
					return err
				}
				return printTraces(stdout, ts)
			}
			app, err := optionalApp(args)
			if err != nil {
				return err
			}
			return withApp(app, 10*time.Second, func(ctx context.Context, c *control.Client) error {
				ts, err := c.Traces(ctx, q)
				if err != nil {
					return err
				}
				return printTraces(stdout, ts)
			})
		},
	}
}

func printTraces(w io.Writer, ts []api.TraceSummary) error {
	if len(ts) == 0 {
		_, err := fmt.Fprintln(w, "no traces")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TRACE\tSTART\tDURATION\tSPANS\tERRORS\tPROCESSES\tROOT")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\n", t.TraceID, t.Start.Local().Format("15:04:05.000"), roundDuration(t.Duration), t.Spans, t.Errors, len(t.Processes), t.Root)
	}
	return tw.Flush()
}

func traceCmd() *command {
	var k onKube
	return &command{
		name:  "trace",
		usage: "[app] ID | --kube [--context C] [--namespace N] app ID",
		short: "show one trace as a waterfall",
		long: `Trace shows the spans of one trace (an ID from "pilotage traces", or its first
8 or more hex digits) as a waterfall: each span under its parent, with the
process it ran in, its duration, a bar placing it in the trace's time, and
its error if it failed.

` + appLookupHelp("") + `

` + kubeTelemetryHelp,
		flags: func(fs *flag.FlagSet) { k.flags(fs, "show a trace of the app deployed to Kubernetes") },
		run: func(_ *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
			if k.set() {
				if len(args) != 2 {
					return fmt.Errorf("%w: with --kube, name the app and the trace", errUsage)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				t, err := deploy.Trace(ctx, k.Target, args[0], args[1], stderr)
				if err != nil {
					return err
				}
				return printWaterfall(stdout, t)
			}
			app, id, err := appAndName(args)
			if err != nil {
				return err
			}
			return withApp(app, 10*time.Second, func(ctx context.Context, c *control.Client) error {
				t, err := c.Trace(ctx, id)
				if err != nil {
					return err
				}
				return printWaterfall(stdout, t)
			})
		},
	}
}

// waterfallWidth is the width of the bars of "pilotage trace".
const waterfallWidth = 40

// printWaterfall writes t's spans as a tree, children under their parent in
// start order, each with a bar over the trace's span of time.
func printWaterfall(w io.Writer, t *api.Trace) error {
	if len(t.Spans) == 0 {
		return fmt.Errorf("trace %s has no spans", t.TraceID)
	}
	ids := map[string]bool{}
	start, end := t.Spans[0].Start, t.Spans[0].End
	for _, s := range t.Spans {
		ids[s.SpanID] = true
		if s.Start.Before(start) {
			start = s.Start
		}
		if s.End.After(end) {
			end = s.End
		}
	}
	children := map[string][]api.TraceSpan{}
	var roots []api.TraceSpan
	for _, s := range t.Spans { // in start order
		if s.ParentSpanID != "" && ids[s.ParentSpanID] {
			children[s.ParentSpanID] = append(children[s.ParentSpanID], s)
		} else {
			roots = append(roots, s) // a root, or a span whose parent was not kept
		}
	}
	total := end.Sub(start)
	fmt.Fprintf(w, "trace %s: %d spans, %s\n", t.TraceID, len(t.Spans), roundDuration(total))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SPAN\tPROCESS\tDURATION\t"+strings.Repeat(" ", waterfallWidth)+"\tSTATUS")
	var walk func(s api.TraceSpan, depth int)
	walk = func(s api.TraceSpan, depth int) {
		status := s.Status
		if s.Message != "" {
			status += ": " + s.Message
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\t%s\n", strings.Repeat("  ", depth), s.Name, s.Replica, roundDuration(s.End.Sub(s.Start)), bar(s.Start.Sub(start), s.End.Sub(start), total), status)
		for _, c := range children[s.SpanID] {
			walk(c, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
	return tw.Flush()
}

// bar draws [from, to) of total in waterfallWidth columns: at least one
// mark, so that a short span still shows where it was.
func bar(from, to, total time.Duration) string {
	if total <= 0 {
		return strings.Repeat("█", waterfallWidth)
	}
	a := int(int64(from) * waterfallWidth / int64(total))
	b := int((int64(to)*waterfallWidth + int64(total) - 1) / int64(total))
	a = min(max(a, 0), waterfallWidth-1)
	b = min(max(b, a+1), waterfallWidth)
	return strings.Repeat(" ", a) + strings.Repeat("█", b-a) + strings.Repeat(" ", waterfallWidth-b)
}

func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

func topCmd() *command {
	var (
		interval time.Duration
		count    int
		k        onKube
	)
	return &command{
		name:  "top",
		usage: "[-interval 2s] [-n N] [app] | --kube [--context C] [--namespace N] ... app",
		short: "show live call rates, errors and latencies per component method",
		long: `Top shows, for every component method an app's processes served, its calls
per second, its error ratio and its median and 99th percentile latency
over the last interval, and its calls in flight; then each process's CPU,
resident memory and goroutines. On a terminal the screen is redrawn in
place every interval; otherwise one table follows another. The figures
come from the supervisor, which serves them to Prometheus too (GET
/metrics on the control socket, or on [telemetry] metrics_address).

` + appLookupHelp("") + `

` + kubeTelemetryHelp,
		flags: func(fs *flag.FlagSet) {
			fs.DurationVar(&interval, "interval", 2*time.Second, "time between refreshes")
			fs.IntVar(&count, "n", 0, "stop after `N` refreshes (0: until interrupted)")
			k.flags(fs, "show the app deployed to Kubernetes")
		},
		run: func(_ *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
			if interval <= 0 {
				return fmt.Errorf("-interval %s: must be positive", interval)
			}
			if count < 0 {
				return fmt.Errorf("-n %d: want a count (0: until interrupted)", count)
			}
			var metrics func(context.Context) (*api.Metrics, error)
			if k.set() {
				app, err := kubeApp(args)
				if err != nil {
					return err
				}
				c, err := deploy.Connect(k.Target)
				if err != nil {
					return err
				}
				metrics = func(ctx context.Context) (*api.Metrics, error) { return c.Metrics(ctx, app, stderr) }
			} else {
				app, err := optionalApp(args)
				if err != nil {
					return err
				}
				c, err := dialApp(app)
				if err != nil {
					return err
				}
				defer c.Close()
				metrics = c.Metrics
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runTop(ctx, stdout, interval, count, metrics)
		},
	}
}

// kubeTelemetryHelp is the --kube paragraph of traces, trace and top.
const kubeTelemetryHelp = `With --kube (or --context, --namespace, --kubeconfig), it reads the app
"pilotage deploy" put on a cluster: each pod of its live (and canary)
version keeps its replica's traces and metrics, which it serves on its
health port, and the command reads every pod's through the API server's
pods/proxy (RBAC: get on pods/proxy) and merges them; a pod that does not
answer is left out, with a line on stderr. Pods sample [telemetry]
sample_ratio of traces, 10 % by default.`

// kubeApp returns the app of the arguments "app" of a --kube command.
func kubeApp(args []string) (string, error) {
	if len(args) != 1 {
		return "", fmt.Errorf("%w: with --kube, name the app", errUsage)
	}
	return args[0], nil
}

// runTop prints the figures fetch returns, every interval, count times
// (0: until ctx ends); on a terminal, each table replaces the last.
func runTop(ctx context.Context, stdout io.Writer, interval time.Duration, count int, fetch func(context.Context) (*api.Metrics, error)) error {
	metrics := func(ctx context.Context) (*api.Metrics, error) {
		ctx, cancel := context.WithTimeout(ctx, max(interval, 10*time.Second))
		defer cancel()
		return fetch(ctx)
	}
	clear := isTerminal(stdout)
	prev, err := metrics(ctx)
	if err != nil {
		return err
	}
	for i := 0; count == 0 || i < count; i++ {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
		cur, err := metrics(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if clear {
			fmt.Fprint(stdout, "\x1b[H\x1b[2J")
		}
		if err := printTop(stdout, prev, cur); err != nil {
			return err
		}
		prev = cur
	}
	return nil
}

// printTop writes the figures of the time between prev and cur.
func printTop(w io.Writer, prev, cur *api.Metrics) error {
	secs := cur.Time.Sub(prev.Time).Seconds()
	type key struct{ c, m, side string }
	before := map[key]api.MethodStats{}
	for _, m := range prev.Methods {
		before[key{m.Component, m.Method, m.Side}] = m
	}
	fmt.Fprintf(w, "%s, over the last %.1fs\n", cur.Time.Local().Format("15:04:05"), secs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "METHOD\tSIDE\tCALLS/S\tERRORS\tP50\tP99\tIN FLIGHT\t")
	for _, m := range cur.Methods {
		b := before[key{m.Component, m.Method, m.Side}]
		calls := sub(m.Calls, b.Calls)
		var errs uint64
		for k, n := range m.Errors {
			errs += sub(n, b.Errors[k])
		}
		lat := make([]uint64, len(m.Latency))
		for i := range lat {
			if i < len(b.Latency) {
				lat[i] = sub(m.Latency[i], b.Latency[i])
			} else {
				lat[i] = m.Latency[i]
			}
		}
		ratio := "-"
		if calls > 0 {
			ratio = fmt.Sprintf("%.1f%%", 100*float64(errs)/float64(calls))
		}
		fmt.Fprintf(tw, "%s.%s\t%s\t%.1f\t%s\t%s\t%s\t%d\t\n", shortComponent(m.Component), m.Method, m.Side, float64(calls)/secs, ratio,
			quantile(cur.LatencyBuckets, lat, 0.5), quantile(cur.LatencyBuckets, lat, 0.99), m.InFlight)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	procs := append([]api.ProcessStats(nil), cur.Processes...)
	sort.Slice(procs, func(i, j int) bool { return procs[i].Replica < procs[j].Replica })
	cpuBefore := map[string]float64{}
	for _, p := range prev.Processes {
		cpuBefore[p.Replica] = p.CPUSeconds
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "PROCESS\tCPU\tRSS\tGOROUTINES\t")
	for _, p := range procs {
		cpu := max(p.CPUSeconds-cpuBefore[p.Replica], 0) / secs
		fmt.Fprintf(tw, "%s\t%.1f%%\t%.1f MiB\t%d\t\n", p.Replica, 100*cpu, float64(p.RSSBytes)/(1<<20), p.Goroutines)
	}
	return tw.Flush()
}

// sub is a-b for counters, 0 if a restarted process made a smaller.
func sub(a, b uint64) uint64 {
	if a < b {
		return a
	}
	return a - b
}

// quantile estimates the q-quantile of the calls counted in buckets
// (bounds in seconds, then one above them), interpolating within the
// bucket it falls in; "-" without calls.
func quantile(bounds []float64, counts []uint64, q float64) string {
	var total uint64
	for _, n := range counts {
		total += n
	}
	if total == 0 {
		return "-"
	}
	rank := q * float64(total)
	var seen float64
	for i, n := range counts {
		if n == 0 || seen+float64(n) < rank {
			seen += float64(n)
			continue
		}
		if i >= len(bounds) {
			return ">" + secondsString(bounds[len(bounds)-1])
		}
		lo := 0.0
		if i > 0 {
			lo = bounds[i-1]
		}
		return secondsString(lo + (bounds[i]-lo)*(rank-seen)/float64(n))
	}
	return secondsString(bounds[len(bounds)-1])
}

func secondsString(s float64) string {
	return roundDuration(time.Duration(s * float64(time.Second))).String()
}

func shortComponent(full string) string { return full[strings.LastIndex(full, "/")+1:] }
