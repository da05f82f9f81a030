package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/state"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/deploy"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/logstore"
)

func logsCmd() *command {
	var (
		follow     bool
		tail       int
		since      string
		timestamps bool
		traceID    string
		k          onKube
	)
	return &command{
		name:  "logs",
		usage: "[-f] [-n N] [-since 5m] [-t] [--trace ID] [app] [component...] | --kube [--context C] [--namespace N] [-f] ... app [component...]",
		short: "print the logs of an app's processes",
		long: `Logs prints the logs that "pilotage run" keeps of an app's processes and
units (in <state dir>/logs, bounded and rotated), merged in time order, as
"source | message" lines: through its supervisor's control API while the
app runs, from the files when it does not.

A component selects the processes hosting it: "catalog" (a package),
"catalog.Catalog" or "catalog.Catalog/1" (one replica); "redis" selects a
unit and "pilotage" the supervisor's own lines. A single argument is an app
if an app of that name or ID has state, else a component.

--trace ID prints only the lines of one trace (see "pilotage traces"):
those a component logged with its Logger(ctx) while serving a call or an
HTTP request of that trace, from every process, which carry trace_id=ID.

` + appLookupHelp(", else the only app with state") + `

With --kube (or --context, --namespace, --kubeconfig), it prints the logs
of the pods of the app as "pilotage deploy" put it on a cluster (its live
version, and its canary), as "pod | message" lines merged in time order;
-n counts lines per pod, and -f follows the pods running when it starts;
--trace selects the lines of one trace among them (see "pilotage traces
--kube").`,
		flags: func(fs *flag.FlagSet) {
			k.flags(fs, "print the logs of the app deployed to Kubernetes")
			fs.BoolVar(&follow, "f", false, "follow: keep printing new lines until interrupted")
			fs.IntVar(&tail, "n", 0, "print only the last `N` lines (0: all)")
			fs.StringVar(&since, "since", "", "print only lines newer than a `duration` ago (5m, 1h) or an RFC 3339 time")
			fs.BoolVar(&timestamps, "t", false, "print the time of each line")
			fs.StringVar(&traceID, "trace", "", "print only the lines of the trace with this `ID`")
		},
		run: func(fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			if tail < 0 {
				return fmt.Errorf("-n %d: must not be negative", tail)
			}
			if traceID != "" {
				if tail > 0 {
					return fmt.Errorf("%w: -n and --trace do not combine (-n counts lines before --trace selects)", errUsage)
				}
				fw := &traceFilter{w: stdout, id: traceID}
				defer fw.Flush()
				stdout = fw
			}
			q := logstore.Query{Follow: follow, Tail: tail, Timestamps: timestamps}
			if since != "" {
				var err error
				if q.Since, err = parseSince(since, time.Now()); err != nil {
					return err
				}
			}
			if k.set() {
				if len(args) == 0 {
					return fmt.Errorf("%w: with --kube, name the app", errUsage)
				}
				ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
				defer stop()
				err := deploy.Logs(ctx, k.Target, args[0], deploy.LogQuery{Components: args[1:], Follow: follow, Tail: int64(tail), Since: q.Since, Timestamps: timestamps}, stdout)
				if ctx.Err() != nil {
					return nil // interrupted: the end of -f
				}
				return err
			}
			app, comps, err := logsArgs(args)
			if err != nil {
				return err
			}
			q.Sources = comps
			a, err := findApp(app, true)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			q.Context = ctx
			var viaSupervisor error
			if a.Running {
				// Through the supervisor, as for an app elsewhere; its
				// files if it fails before the first line (it just
				// stopped, it is of another release).
				printed, err := logsOfSupervisor(ctx, a.StateDir, q, stdout)
				if printed || err == nil || ctx.Err() != nil {
					return err
				}
				viaSupervisor = err
			}
			logs := filepath.Join(a.StateDir, "logs")
			if _, err := os.Stat(logs); errors.Is(err, os.ErrNotExist) {
				if viaSupervisor != nil {
					return fmt.Errorf("no logs in %s, and the supervisor's failed: %w", a.StateDir, viaSupervisor)
				}
				return fmt.Errorf("no logs in %s", a.StateDir)
			}
			return logstore.Read(logs, q, stdout)
		},
	}
}

// logsOfSupervisor prints the log lines q selects as the supervisor of
// state directory dir streams them (GET /v2/logs), as logstore.Read
// prints them; printed says whether any was.
func logsOfSupervisor(ctx context.Context, dir string, q logstore.Query, stdout io.Writer) (printed bool, err error) {
	c := control.Dial(dir)
	defer c.Close()
	app, err := c.App(ctx)
	if err != nil {
		return false, err
	}
	out := bufio.NewWriter(stdout)
	live := false
	err = c.Logs(ctx, api.Join(api.Apps, app), control.LogQuery{Tail: q.Tail, Since: q.Since, Follow: q.Follow, Sources: q.Sources},
		func(l api.LogLine) error {
			printed = true
			if l.CaughtUp {
				live = true
				return out.Flush()
			}
			if err := logstore.Print(out, logstore.Record{Time: l.Time, Source: l.Source, Message: l.Message, Width: l.Width}, q.Timestamps); err != nil {
				return err
			}
			if live {
				return out.Flush()
			}
			return nil
		})
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	return printed, err
}

// logsArgs splits the arguments of logs into an app (maybe empty) and
// components.
func logsArgs(args []string) (app string, comps []string, err error) {
	if len(args) == 0 {
		return "", nil, nil
	}
	if len(args) > 1 {
		return args[0], args[1:], nil
	}
	if os.Getenv(state.StateDirEnv) != "" || strings.ContainsAny(args[0], `/\`) {
		return "", args, nil
	}
	ok, err := isApp(args[0])
	if err != nil {
		return "", nil, err
	}
	if ok {
		return args[0], nil, nil
	}
	return "", args, nil
}

// parseSince parses a -since value: a duration before now, or a time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			d = -d
		}
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("-since %q: want a duration such as 5m or a time such as 2006-01-02T15:04:05", s)
}
