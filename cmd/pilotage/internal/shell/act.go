package shell

import (
	"context"
	"flag"
	"fmt"
	"slices"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// actCommand returns the command performing action on nodes that accept
// it (start, stop, restart, release).
func actCommand(action, short string) *command {
	return &command{
		name: action, usage: "path...", short: short, flags: noFlags,
		run: func(ctx context.Context, s *Shell, _ any, args []string) error {
			if len(args) == 0 {
				return errUsage
			}
			paths, err := s.targets(ctx, args, action, func(n tree.Node) bool { return slices.Contains(n.Actions, action) })
			if err != nil {
				return err
			}
			for _, p := range paths {
				msg, err := s.root.Act(ctx, p, action)
				if err != nil {
					return err
				}
				fmt.Fprintln(s.stdout, firstNonEmpty(msg, p+": "+action+" done"))
			}
			return nil
		},
	}
}

func getCommand() *command {
	return &command{
		name: "get", usage: "[--reveal] path", short: "print a config key's value",
		flags: func(fs *flag.FlagSet) any { return fs.Bool("reveal", false, "show a value marked secret") },
		run: func(ctx context.Context, s *Shell, flags any, args []string) error {
			if len(args) != 1 {
				return errUsage
			}
			p, err := s.resolve(args[0])
			if err != nil {
				return err
			}
			c, err := s.read(ctx, p, tree.ReadOptions{Reveal: *flags.(*bool)})
			if err != nil {
				return err
			}
			if text, ok := textOf(c.Value); ok {
				return s.printContent(text, outputDefault)
			}
			return s.printContent(c.Value, outputJSON)
		},
	}
}

func putCommand() *command {
	return &command{
		name: "put", usage: "path value|-", short: "set a config key (- reads the value from stdin)", flags: noFlags,
		run: func(ctx context.Context, s *Shell, _ any, args []string) error {
			if len(args) != 2 {
				return errUsage
			}
			p, err := s.resolve(args[0])
			if err != nil {
				return err
			}
			value, err := s.valueArg(args[1])
			if err != nil {
				return err
			}
			version, err := s.root.Write(ctx, p, value, "")
			if err != nil {
				return err
			}
			fmt.Fprintf(s.stdout, "%s set", p)
			if version != "" {
				fmt.Fprintf(s.stdout, " (version %s)", version)
			}
			fmt.Fprintln(s.stdout)
			return nil
		},
	}
}
