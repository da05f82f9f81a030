package shell

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

type rmFlags struct{ force bool }

func rmCommand() *command {
	return &command{
		name: "rm", usage: "[-f] path...", short: "remove nodes (asks first; -f does not)",
		flags: func(fs *flag.FlagSet) any {
			f := &rmFlags{}
			fs.BoolVar(&f.force, "f", false, "do not ask (needed when stdin is not a terminal)")
			return f
		},
		run: runRm,
	}
}

func runRm(ctx context.Context, s *Shell, flags any, args []string) error {
	f := flags.(*rmFlags)
	if len(args) == 0 {
		return errUsage
	}
	paths, err := s.targets(ctx, args, "remove", func(n tree.Node) bool { return n.Remove })
	if err != nil {
		return err
	}
	if !f.force {
		if !isTerminal(s.stdin) {
			return fmt.Errorf("not removing %s without -f: stdin is not a terminal to ask on", strings.Join(paths, " "))
		}
		fmt.Fprintf(s.stderr, "remove %s? [y/N] ", strings.Join(paths, " "))
		answer, _ := bufio.NewReader(s.stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			fmt.Fprintln(s.stderr, "nothing removed")
			return nil
		}
	}
	for _, p := range paths {
		if err := s.root.Remove(ctx, p); err != nil {
			return err
		}
		fmt.Fprintf(s.stdout, "removed %s\n", p)
	}
	return nil
}
