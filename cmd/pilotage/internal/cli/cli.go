// Package cli implements the pilotage command: a table of subcommands, each
// parsing its own flags with the standard flag package, in the style of the
// go command.
package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/shell"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/supervisor"
)

// A command is one pilotage subcommand.
type command struct {
	name  string
	usage string // arguments, after the name
	short string // one line for the command list
	long  string // help text
	run   func(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error
	flags func(fs *flag.FlagSet) // declares the command's flags; may be nil
	// hidden keeps the command out of the help: it is run by pilotage
	// itself (a pod's entrypoint), not by people.
	hidden bool
}

// errUsage makes Main print the command's usage and exit with status 2.
var errUsage = errors.New("usage")

func commands() []*command {
	return []*command{generateCmd(), runCmd(), statusCmd(), logsCmd(), stopCmd(), startCmd(), restartCmd(), analyzeCmd(), tracesCmd(), traceCmd(), topCmd(), locksCmd(), leadersCmd(), unlockCmd(), configCmd(), shCmd(), deployCmd(), rollbackCmd(), promoteCmd(), abortCmd(), deleteCmd(), kubeEnvelopeCmd(), kubeEtcdCmd(), kubeRouterCmd(), versionCmd()}
}

// Main runs the pilotage command with args (without the program name) and
// returns the exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	supervisor.RunShim(args) // "pilotage run" starts each unit under a shim: this binary
	if len(args) == 0 {
		printHelp(stderr)
		return 2
	}
	name := args[0]
	if name == "help" || name == "-h" || name == "--help" || name == "-help" {
		if len(args) > 1 {
			if c := lookup(args[1]); c != nil {
				printUsage(stdout, c)
				return 0
			}
			if shell.IsCommand(args[1]) {
				return runTreeCommand([]string{"help", args[1]}, stdout, stderr)
			}
			fmt.Fprintf(stderr, "pilotage help %s: unknown command\n", args[1])
			return 2
		}
		printHelp(stdout)
		return 0
	}
	if treeCommand(args) {
		return runTreeCommand(args, stdout, stderr)
	}
	c := lookup(name)
	if c == nil {
		fmt.Fprintf(stderr, "pilotage %s: unknown command\nRun 'pilotage help' for usage.\n", name)
		return 2
	}
	fs := flag.NewFlagSet("pilotage "+c.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { printUsage(stderr, c) }
	if c.flags != nil {
		c.flags(fs)
	}
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := c.run(fs, pos, stdout, stderr); err != nil {
		var exit *exitStatus
		if errors.As(err, &exit) {
			return exit.status
		}
		if errors.Is(err, errUsage) {
			fs.Usage()
			return 2
		}
		fmt.Fprintf(stderr, "pilotage %s: %v\n", c.name, err)
		return 1
	}
	return 0
}

func lookup(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

func printHelp(w io.Writer) {
	fmt.Fprint(w, "pilotage builds, runs and operates distributed Go applications.\n\nUsage:\n\n\tpilotage <command> [arguments]\n\nThe commands are:\n\n")
	for _, c := range commands() {
		if !c.hidden {
			fmt.Fprintf(w, "\t%-10s %s\n", c.name, c.short)
		}
	}
	fmt.Fprint(w, "\nThe tree commands, on their own or inside \"pilotage sh\" (logs, start, stop and\nrestart given a path, such as /apps/shop/components/cart.Cart):\n\n")
	for _, c := range shell.Commands() {
		if lookup(c[0]) == nil {
			fmt.Fprintf(w, "\t%-10s %s\n", c[0], c[1])
		}
	}
	fmt.Fprint(w, "\nUse \"pilotage help <command>\" for more information about a command.\n")
}

func printUsage(w io.Writer, c *command) {
	fmt.Fprintf(w, "usage: pilotage %s %s\n\n%s\n", c.name, c.usage, strings.TrimSpace(c.long))
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	if c.flags != nil {
		c.flags(fs)
		var b strings.Builder
		fs.SetOutput(&b)
		fs.PrintDefaults()
		if b.Len() > 0 {
			fmt.Fprintf(w, "\nFlags:\n%s", b.String())
		}
	}
}

// writeJSON writes v as indented JSON, for -json flags.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// parseArgs parses the flags found anywhere among args, so that
// "pilotage logs shop -f" works like "pilotage logs -f shop", and returns
// the positional arguments. "--" ends the flags.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
