package shell

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

type logsFlags struct {
	follow bool
	since  time.Duration
	tail   int
}

func logsCommand() *command {
	return &command{
		name: "logs", usage: "[-f] [--since D] [--tail N] path...", short: "show logs, merged across every path (globs too), each line prefixed by its path",
		flags: func(fs *flag.FlagSet) any {
			f := &logsFlags{}
			fs.BoolVar(&f.follow, "f", false, "follow: keep printing new lines until interrupted")
			fs.DurationVar(&f.since, "since", 0, "only lines of the last `duration` (10m, 1h)")
			fs.IntVar(&f.tail, "tail", 0, "only the last N stored lines of each path (0: all)")
			return f
		},
		run: runLogs,
	}
}

func runLogs(ctx context.Context, s *Shell, flags any, args []string) error {
	f := flags.(*logsFlags)
	if f.tail < 0 || f.since < 0 {
		return fmt.Errorf("--tail and --since cannot be negative: %w", errUsage)
	}
	if len(args) == 0 {
		args = []string{"."}
	}
	paths, err := s.expandAll(ctx, args)
	if err != nil {
		return err
	}
	opts := tree.LogOptions{Follow: f.follow, Tail: f.tail}
	if f.since > 0 {
		opts.Since = time.Now().Add(-f.since)
	}
	// Following, lines print as they come; otherwise each path's lines
	// are collected and all printed merged by time.
	var mu sync.Mutex
	var lines []tree.LogLine
	emit := func(l tree.LogLine) error {
		mu.Lock()
		defer mu.Unlock()
		if f.follow {
			s.printLogLine(l)
		} else {
			lines = append(lines, l)
		}
		return nil
	}
	results := fanOut(ctx, paths, func(ctx context.Context, p string) (int, error) {
		return 0, s.root.Logs(ctx, p, opts, emit)
	})
	slices.SortStableFunc(lines, func(a, b tree.LogLine) int { return a.Time.Compare(b.Time) })
	for _, l := range lines {
		s.printLogLine(l)
	}
	return s.summarize(ctx, results, false)
}

func (s *Shell) printLogLine(l tree.LogLine) {
	fmt.Fprintf(s.stdout, "%s: %s\n", s.display(l.Path), l.Text)
}
