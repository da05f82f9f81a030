package shell

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
)

// completeTimeout bounds a tab completion, so that a tree that cannot
// answer never freezes the prompt.
const completeTimeout = 2 * time.Second

// Interactive runs the shell until its input ends ("exit", Ctrl-D) and
// returns the exit status of the last command. On a terminal it prompts,
// keeps history and completes on Tab; Ctrl-C cancels the running command,
// not the shell. Otherwise it reads commands line by line, as a script.
func (s *Shell) Interactive(ctx context.Context) int {
	in, ok := s.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) || !isTerminal(s.stdout) {
		return s.script(ctx)
	}
	fd := int(in.Fd())
	h := loadHistory(s.historyFile)
	t := term.NewTerminal(&terminalIO{r: &interruptReader{r: in}, w: s.stdout}, s.prompt())
	t.History = h
	t.AutoCompleteCallback = func(line string, pos int, key rune) (string, int, bool) {
		if key != '\t' {
			return "", 0, false
		}
		cctx, cancel := context.WithTimeout(ctx, completeTimeout)
		defer cancel()
		newLine, newPos, candidates := s.complete(cctx, line, pos)
		if len(candidates) > 0 {
			fmt.Fprintln(t, strings.Join(candidates, "  "))
		}
		return newLine, newPos, true
	}
	resize := func() {
		if w, h, err := term.GetSize(fd); err == nil {
			t.SetSize(w, h)
		}
	}
	resize()
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	defer signal.Stop(winch)
	go func() {
		for range winch {
			resize()
		}
	}()

	status := ExitOK
	for {
		old, err := term.MakeRaw(fd)
		if err != nil {
			fmt.Fprintf(s.stderr, "sh: terminal: %v\n", err)
			return ExitError
		}
		t.SetPrompt(s.prompt())
		line, err := t.ReadLine()
		term.Restore(fd, old)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				fmt.Fprintf(s.stderr, "sh: %v\n", err)
				return ExitError
			}
			fmt.Fprintln(s.stdout)
			return status
		}
		if done, st := s.runLine(ctx, line); done {
			return st
		} else if st >= 0 {
			status = st
		}
		if h.err != nil {
			fmt.Fprintf(s.stderr, "sh: %v (history is no longer saved)\n", h.err)
			h.file, h.err = "", nil
		}
	}
}

// script runs the commands of a non-terminal input, one per line; it
// stops at the first failure, as sh -e does, and returns its status.
func (s *Shell) script(ctx context.Context) int {
	sc := bufio.NewScanner(s.stdin)
	for sc.Scan() {
		if done, st := s.runLine(ctx, sc.Text()); done || st > 0 {
			return max(st, 0)
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(s.stderr, "sh: read commands: %v\n", err)
		return ExitError
	}
	return ExitOK
}

// runLine runs one command line with its own context, which Ctrl-C
// cancels. done says the shell should end (exit), with status; status is
// -1 for a blank line or comment.
func (s *Shell) runLine(ctx context.Context, line string) (done bool, status int) {
	words, err := SplitWords(line)
	if err != nil {
		fmt.Fprintf(s.stderr, "sh: %v\n", err)
		return false, ExitUsage
	}
	if len(words) == 0 || strings.HasPrefix(words[0], "#") {
		return false, -1
	}
	if words[0] == "exit" || words[0] == "quit" {
		return true, ExitOK
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sigint := make(chan os.Signal, 1)
	signal.Notify(sigint, os.Interrupt)
	defer signal.Stop(sigint)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-sigint:
			cancel()
		case <-cctx.Done():
		}
	}()
	status = s.Run(cctx, words)
	cancel()
	wg.Wait()
	return false, status
}

// prompt shows where the shell is: the app or Kubernetes context, and the
// working directory.
func (s *Shell) prompt() string {
	elems, err := api.Split(s.cwd)
	where := ""
	if err == nil && len(elems) >= 2 {
		switch elems[0] {
		case api.Apps:
			where = "(" + elems[1] + ") "
		case "kube":
			where = "(kube:" + elems[1] + ") "
		}
	}
	return where + s.cwd + "> "
}

// terminalIO joins the terminal's input and output for term.Terminal.
type terminalIO struct {
	r io.Reader
	w io.Writer
}

func (t *terminalIO) Read(b []byte) (int, error)  { return t.r.Read(b) }
func (t *terminalIO) Write(b []byte) (int, error) { return t.w.Write(b) }

// interruptReader turns Ctrl-C at the prompt into "abandon this line"
// (term.Terminal would end ReadLine with io.EOF, as for Ctrl-D, and so
// the shell): to the end of the line, erase it, and Enter.
type interruptReader struct {
	r       io.Reader
	pending []byte
}

func (i *interruptReader) Read(b []byte) (int, error) {
	if len(i.pending) == 0 {
		n, err := i.r.Read(b)
		if n == 0 {
			return n, err
		}
		for _, c := range b[:n] {
			if c == 3 { // Ctrl-C
				i.pending = append(i.pending, 5, 21, '\r') // Ctrl-E, Ctrl-U, Enter
			} else {
				i.pending = append(i.pending, c)
			}
		}
	}
	n := copy(b, i.pending)
	i.pending = i.pending[n:]
	return n, nil
}
