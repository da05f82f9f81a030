package shell

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// Exit statuses.
const (
	ExitOK       = 0
	ExitError    = 1
	ExitUsage    = 2
	ExitNotFound = 3
)

// errUsage marks an error as bad usage: exit status 2 and the command's
// usage line.
var errUsage = errors.New("usage")

// exitError carries an exit status a command chose (exec's command's).
type exitError struct{ status int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.status) }

// Options configure a Shell.
type Options struct {
	Root tree.FS // the tree, with /apps and /kube mounted
	// Home is "~" and where an interactive shell starts: the current
	// app's directory, or "/".
	Home   string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Editor is the command edit runs with the file to edit as its last
	// argument; empty for $VISUAL, $EDITOR, else vi.
	Editor string
	// HistoryFile keeps an interactive shell's history; empty for none.
	HistoryFile string
}

// A Shell runs commands over a tree. It is not safe for concurrent use:
// one command runs at a time.
type Shell struct {
	root           tree.FS
	cwd, prev      string
	home           string
	stdin          io.Reader
	stdout, stderr io.Writer
	editor         string
	historyFile    string
}

// New returns a shell whose working directory is opts.Home.
func New(opts Options) *Shell {
	home := opts.Home
	if home == "" {
		home = "/"
	}
	s := &Shell{root: opts.Root, cwd: home, home: home, stdin: opts.Stdin, stdout: opts.Stdout, stderr: opts.Stderr, editor: opts.Editor, historyFile: opts.HistoryFile}
	if s.stdin == nil {
		s.stdin = strings.NewReader("")
	}
	return s
}

// Run runs one command (its name and arguments) and returns its exit
// status, having printed any error as one line on stderr.
func (s *Shell) Run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		return ExitOK
	}
	c := lookup(args[0])
	if c == nil {
		fmt.Fprintf(s.stderr, "%s: unknown command (try help)\n", args[0])
		return ExitUsage
	}
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := c.flags(fs)
	pos, err := parseArgs(fs, args[1:], c.stopAtPositional)
	if errors.Is(err, flag.ErrHelp) {
		s.usage(s.stdout, c, fs)
		return ExitOK
	}
	if err == nil {
		err = c.run(ctx, s, f, pos)
	}
	return s.report(c, fs, err)
}

// report prints err as the shell shows errors and returns the exit status
// it means.
func (s *Shell) report(c *command, fs *flag.FlagSet, err error) int {
	var exit *exitError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &exit):
		return exit.status
	case errors.Is(err, errUsage):
		if msg := strings.TrimSuffix(strings.TrimSuffix(err.Error(), errUsage.Error()), ": "); msg != "" {
			fmt.Fprintf(s.stderr, "%s: %s\n", c.name, msg)
		}
		s.usage(s.stderr, c, fs)
		return ExitUsage
	case errors.Is(err, context.Canceled):
		return ExitError
	}
	fmt.Fprintf(s.stderr, "%s: %s\n", c.name, oneLine(err))
	if errors.Is(err, tree.ErrNotFound) {
		return ExitNotFound
	}
	return ExitError
}

// oneLine returns err's message on one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", " ")), " ")
}

func (s *Shell) usage(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: %s %s\n", c.name, c.usage)
	var b strings.Builder
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	if b.Len() > 0 {
		fmt.Fprint(w, b.String())
	}
}

// parseArgs parses the flags found anywhere among args (so that
// "ls /apps -l" works), and returns the positional arguments. "--" ends
// the flags; so does the first positional argument if stop is set (exec's
// command keeps its own flags).
func parseArgs(fs *flag.FlagSet, args []string, stop int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, fmt.Errorf("%v: %w", err, errUsage)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		if stop > 0 && len(pos) >= stop {
			return append(pos, rest[1:]...), nil
		}
		args = rest[1:]
	}
}

// isTerminal reports whether f is a terminal.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && term.IsTerminal(int(file.Fd()))
}
