package shell

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"
)

// A command is one shell command.
type command struct {
	name  string
	usage string // arguments, after the name
	short string // one line for help
	// flags declares the command's flags on fs and returns what run
	// reads them from.
	flags func(fs *flag.FlagSet) any
	run   func(ctx context.Context, s *Shell, flags any, args []string) error
	// stopAtPositional > 0 ends flag parsing after that many positional
	// arguments (exec: the command's own flags are its own).
	stopAtPositional int
	// interactive: only in "pilotage sh" (cd changes the shell's state).
	interactive bool
}

func noFlags(*flag.FlagSet) any { return nil }

var commandTable []*command

func init() {
	commandTable = []*command{
		{name: "cd", usage: "[path]", short: "change the working directory (~ the current app, - the previous one)", flags: noFlags, run: runCd, interactive: true},
		{name: "pwd", usage: "", short: "print the working directory", flags: noFlags, run: runPwd, interactive: true},
		lsCommand(),
		treeCommand(),
		catCommand(),
		editCommand(),
		rmCommand(),
		actCommand("start", "start components, groups or units"),
		actCommand("stop", "stop components, groups or units"),
		actCommand("restart", "restart components, replicas or units (rolling)"),
		actCommand("release", "take a lock from its holder"),
		getCommand(),
		putCommand(),
		logsCommand(),
		execCommand(),
		callCommand(),
		{name: "help", usage: "[command]", short: "list the commands, or show one's usage", flags: noFlags, run: runHelp},
	}
}

func lookup(name string) *command {
	i := slices.IndexFunc(commandTable, func(c *command) bool { return c.name == name })
	if i < 0 {
		return nil
	}
	return commandTable[i]
}

// IsCommand reports whether name is a shell command that runs outside an
// interactive shell too ("pilotage ls").
func IsCommand(name string) bool {
	c := lookup(name)
	return c != nil && !c.interactive && name != "help"
}

// Commands returns the names and one-line descriptions of the commands
// that run outside an interactive shell, for "pilotage help".
func Commands() [][2]string {
	var out [][2]string
	for _, c := range commandTable {
		if !c.interactive && c.name != "help" {
			out = append(out, [2]string{c.name, c.short})
		}
	}
	return out
}

func runHelp(_ context.Context, s *Shell, _ any, args []string) error {
	if len(args) == 1 {
		c := lookup(args[0])
		if c == nil {
			return fmt.Errorf("%s: unknown command: %w", args[0], errUsage)
		}
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		c.flags(fs)
		s.usage(s.stdout, c, fs)
		return nil
	}
	var b strings.Builder
	for _, c := range commandTable {
		fmt.Fprintf(&b, "  %-8s %s\n", c.name, c.short)
	}
	fmt.Fprintf(s.stdout, "Commands (help <command> for its usage):\n%sPaths: absolute, relative, .., ~ (the current app), - (the previous directory), globs (* ? [...]) per element.\n", b.String())
	return nil
}

func runCd(ctx context.Context, s *Shell, _ any, args []string) error {
	if len(args) > 1 {
		return errUsage
	}
	target := s.home
	if len(args) == 1 {
		p, err := s.resolve(args[0])
		if err != nil {
			return err
		}
		target = p
	}
	n, err := s.root.Stat(ctx, target)
	if err != nil {
		return err
	}
	if !n.Dir {
		return fmt.Errorf("%s: not a directory", target)
	}
	s.prev, s.cwd = s.cwd, target
	return nil
}

func runPwd(_ context.Context, s *Shell, _ any, args []string) error {
	if len(args) > 0 {
		return errUsage
	}
	fmt.Fprintln(s.stdout, s.cwd)
	return nil
}
