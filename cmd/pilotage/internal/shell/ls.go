package shell

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

type lsFlags struct {
	long, watch, self bool
	output            *outputFormat
}

func lsCommand() *command {
	return &command{
		name: "ls", usage: "[-l] [-w] [-d] [-o json|yaml|wide] [path...]", short: "list a directory (-l: state, ready, restarts, age; -w: watch)",
		flags: func(fs *flag.FlagSet) any {
			f := &lsFlags{}
			fs.BoolVar(&f.long, "l", false, "long listing: kind, state, ready, restarts, age")
			fs.BoolVar(&f.watch, "w", false, "after listing, print every change until interrupted")
			fs.BoolVar(&f.self, "d", false, "list directories themselves, not their contents")
			f.output = outputFlag(fs, "long listing with details")
			return f
		},
		run: runLs,
	}
}

func runLs(ctx context.Context, s *Shell, flags any, args []string) error {
	f := flags.(*lsFlags)
	if len(args) == 0 {
		args = []string{"."}
	}
	paths, err := s.expandAll(ctx, args)
	if err != nil {
		return err
	}
	if f.watch && len(paths) != 1 {
		return fmt.Errorf("-w watches one directory: %w", errUsage)
	}
	// Like ls(1): plain nodes first, as one listing, then each directory.
	var files []tree.Node
	var dirs []string
	for _, p := range paths {
		n, err := s.root.Stat(ctx, p)
		if err != nil {
			return err
		}
		if n.Dir && !f.self {
			dirs = append(dirs, p)
		} else {
			files = append(files, n)
		}
	}
	var all []tree.Node // for -o json|yaml: one array of everything listed
	structured := *f.output == outputJSON || *f.output == outputYAML
	if len(files) > 0 {
		if structured {
			all = append(all, files...)
		} else if err := s.printNodes(files, f); err != nil {
			return err
		}
	}
	for i, d := range dirs {
		nodes, err := s.root.List(ctx, d)
		if err != nil {
			return err
		}
		if structured {
			all = append(all, nodes...)
			continue
		}
		if len(paths) > 1 {
			if i > 0 || len(files) > 0 {
				fmt.Fprintln(s.stdout)
			}
			fmt.Fprintf(s.stdout, "%s:\n", d)
		}
		if err := s.printNodes(nodes, f); err != nil {
			return err
		}
	}
	if structured {
		if all == nil {
			all = []tree.Node{}
		}
		return encode(s.stdout, all, *f.output)
	}
	if f.watch {
		return s.watch(ctx, paths[0], f)
	}
	return nil
}

// printNodes prints nodes as ls does: names, or a table with -l.
func (s *Shell) printNodes(nodes []tree.Node, f *lsFlags) error {
	tty := isTerminal(s.stdout)
	if !f.long && *f.output != outputWide {
		for _, n := range nodes {
			name := url.PathEscape(n.Name)
			if tty && n.Dir {
				name += "/"
			}
			fmt.Fprintln(s.stdout, name)
		}
		return nil
	}
	tw := newTable(s.stdout)
	header := "NAME\tKIND\tSTATE\tREADY\tRESTARTS\tAGE"
	if *f.output == outputWide {
		header += "\tINFO"
	}
	fmt.Fprintln(tw, header)
	now := time.Now()
	for _, n := range nodes {
		s.row(tw, "", n, now, *f.output == outputWide)
	}
	return tw.Flush()
}

// row writes one line of a long listing; prefix, if any, is its first
// column (a watch's event type).
func (s *Shell) row(w io.Writer, prefix string, n tree.Node, now time.Time, wide bool) {
	if prefix != "" {
		fmt.Fprintf(w, "%s\t", prefix)
	}
	restarts := "-"
	if n.Restarts > 0 || n.State != "" {
		restarts = strconv.Itoa(n.Restarts)
	}
	fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s", url.PathEscape(n.Name), n.Kind, orDash(n.State), orDash(n.Ready), restarts, age(n.Created, now))
	if wide {
		fmt.Fprintf(w, "\t%s", orDash(n.Info))
	}
	fmt.Fprintln(w)
}

// watch prints every change of dir's children until ctx ends.
func (s *Shell) watch(ctx context.Context, dir string, f *lsFlags) error {
	err := s.root.Watch(ctx, dir, func(ev tree.Event) {
		tw := newTable(s.stdout)
		s.row(tw, string(ev.Type), ev.Node, time.Now(), *f.output == outputWide)
		tw.Flush()
	})
	if ctx.Err() != nil {
		return nil // interrupted: the normal end of a watch
	}
	return err
}
