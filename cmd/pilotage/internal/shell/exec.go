package shell

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"

	"golang.org/x/term"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

type execFlags struct{ tty, noTTY bool }

func execCommand() *command {
	return &command{
		name: "exec", usage: "[-t|-T] path [path... --] command [arg...]", short: "run a command in replicas or containers (a glob runs it in each, concurrently)",
		flags: func(fs *flag.FlagSet) any {
			f := &execFlags{}
			fs.BoolVar(&f.tty, "t", false, "allocate a terminal even if stdin is not one")
			fs.BoolVar(&f.noTTY, "T", false, "no terminal even if stdin is one")
			return f
		},
		run:              runExec,
		stopAtPositional: 1,
	}
}

func runExec(ctx context.Context, s *Shell, flags any, args []string) error {
	f := flags.(*execFlags)
	targets, command := args, []string(nil)
	if i := slices.Index(args, "--"); i >= 0 {
		targets, command = args[:i], args[i+1:]
	} else if len(args) > 0 {
		targets, command = args[:1], args[1:]
	}
	if len(targets) == 0 || len(command) == 0 {
		return errUsage
	}
	paths, err := s.targets(ctx, targets, "exec in", func(n tree.Node) bool { return n.Exec })
	if err != nil {
		return err
	}
	if len(paths) == 1 {
		tty := (f.tty || isTerminal(s.stdin) && isTerminal(s.stdout)) && !f.noTTY
		status, err := s.execOne(ctx, paths[0], command, tty)
		return s.summarize(ctx, []result{{path: paths[0], status: status, err: err}}, true)
	}
	var mu sync.Mutex // one line at a time on each stream
	results := fanOut(ctx, paths, func(ctx context.Context, p string) (int, error) {
		out := &prefixWriter{mu: &mu, w: s.stdout, prefix: s.display(p) + ": "}
		errOut := &prefixWriter{mu: &mu, w: s.stderr, prefix: s.display(p) + ": "}
		defer out.flush()
		defer errOut.flush()
		return s.root.Exec(ctx, p, tree.ExecRequest{Command: command, Stdout: out, Stderr: errOut})
	})
	return s.summarize(ctx, results, true)
}

// execOne runs command in one target, attached to the shell's stdio.
func (s *Shell) execOne(ctx context.Context, p string, command []string, tty bool) (int, error) {
	req := tree.ExecRequest{Command: command, Stdin: s.stdin, Stdout: s.stdout, Stderr: s.stderr, TTY: tty}
	if tty {
		// The command gets Ctrl-C itself (a local one shares the
		// terminal's process group; a remote one reads it from the raw
		// terminal), so the shell's own SIGINT must not end it.
		ctx = context.WithoutCancel(ctx)
	}
	if tty && s.remoteExec(ctx, p) {
		in, ok := s.stdin.(*os.File)
		if ok && term.IsTerminal(int(in.Fd())) {
			old, err := term.MakeRaw(int(in.Fd()))
			if err != nil {
				return 0, fmt.Errorf("exec %s: terminal: %w", p, err)
			}
			defer term.Restore(int(in.Fd()), old)
			sizes := make(chan tree.TermSize, 1)
			stop := watchSize(in, sizes)
			defer stop()
			req.Resize = sizes
		}
	}
	return s.root.Exec(ctx, p, req)
}

// remoteExec reports whether the node at p runs exec elsewhere (a pod).
func (s *Shell) remoteExec(ctx context.Context, p string) bool {
	n, err := s.root.Stat(ctx, p)
	return err == nil && n.RemoteExec
}

// watchSize sends f's terminal size to sizes, then again on each SIGWINCH,
// until stop is called.
func watchSize(f *os.File, sizes chan tree.TermSize) (stop func()) {
	send := func() {
		if w, h, err := term.GetSize(int(f.Fd())); err == nil {
			select {
			case sizes <- tree.TermSize{Width: uint16(w), Height: uint16(h)}:
			default: // the previous size is not taken yet; the next change resends
			}
		}
	}
	send()
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-winch:
				send()
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(winch); close(done) }
}

// prefixWriter writes whole lines to w, each after prefix.
type prefixWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		p.mu.Lock()
		_, err := fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf[:i])
		p.mu.Unlock()
		p.buf = p.buf[i+1:]
		if err != nil {
			return len(b), err
		}
	}
}

// flush writes a last line that had no newline.
func (p *prefixWriter) flush() {
	if len(p.buf) > 0 {
		p.Write([]byte("\n"))
	}
}
