package shell

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"strings"
)

type treeFlags struct{ depth int }

func treeCommand() *command {
	return &command{
		name: "tree", usage: "[-L depth] [path]", short: "show a directory and everything below it",
		flags: func(fs *flag.FlagSet) any {
			f := &treeFlags{}
			fs.IntVar(&f.depth, "L", 4, "descend at most this many levels")
			return f
		},
		run: runTree,
	}
}

func runTree(ctx context.Context, s *Shell, flags any, args []string) error {
	f := flags.(*treeFlags)
	if len(args) > 1 {
		return errUsage
	}
	if f.depth < 1 {
		return fmt.Errorf("-L %d: want at least 1: %w", f.depth, errUsage)
	}
	p, err := s.resolve(strings.Join(args, ""))
	if err != nil {
		return err
	}
	n, err := s.root.Stat(ctx, p)
	if err != nil {
		return err
	}
	fmt.Fprintln(s.stdout, p)
	if !n.Dir {
		return nil
	}
	// Box drawing on a terminal, plain indentation in a pipe.
	branch, last, pipe, space := "├── ", "└── ", "│   ", "    "
	if !isTerminal(s.stdout) {
		branch, last, pipe, space = "  ", "  ", "  ", "  "
	}
	var walk func(dir, indent string, depth int) error
	walk = func(dir, indent string, depth int) error {
		nodes, err := s.root.List(ctx, dir)
		if err != nil {
			fmt.Fprintf(s.stdout, "%s%s[%s]\n", indent, last, oneLine(err))
			return nil // a subtree we may not read is shown, not fatal
		}
		for i, c := range nodes {
			mark, more := branch, pipe
			if i == len(nodes)-1 {
				mark, more = last, space
			}
			suffix := ""
			if c.State != "" {
				suffix = "  (" + c.State + ")"
			}
			fmt.Fprintf(s.stdout, "%s%s%s%s\n", indent, mark, url.PathEscape(c.Name), suffix)
			if c.Dir && depth < f.depth {
				if err := walk(c.Path, indent+more, depth+1); err != nil {
					return err
				}
			}
		}
		return ctx.Err()
	}
	return walk(p, "", 1)
}
