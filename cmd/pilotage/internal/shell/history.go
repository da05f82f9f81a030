package shell

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// maxHistory bounds the lines an interactive shell remembers.
const maxHistory = 1000

// history is the shell's line history (golang.org/x/term's History),
// kept in a file across sessions.
type history struct {
	lines []string // oldest first
	file  string   // empty: not kept
	err   error    // the first failure to write the file, reported once
}

// loadHistory returns the history kept in file (which may not exist yet).
func loadHistory(file string) *history {
	h := &history{file: file}
	if file == "" {
		return h
	}
	f, err := os.Open(file)
	if err != nil {
		return h
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := sc.Text(); l != "" {
			h.lines = append(h.lines, l)
		}
	}
	if len(h.lines) > maxHistory {
		h.lines = h.lines[len(h.lines)-maxHistory:]
	}
	return h
}

// Add records a line read; blank lines and repeats of the last one are
// not kept.
func (h *history) Add(line string) {
	line = strings.TrimSpace(line)
	if line == "" || len(h.lines) > 0 && h.lines[len(h.lines)-1] == line {
		return
	}
	h.lines = append(h.lines, line)
	if len(h.lines) > maxHistory {
		h.lines = h.lines[1:]
	}
	if h.file == "" || h.err != nil {
		return
	}
	if err := appendLine(h.file, line); err != nil {
		h.err = fmt.Errorf("history %s: %w", h.file, err)
	}
}

// Len returns how many lines there are.
func (h *history) Len() int { return len(h.lines) }

// At returns a line: 0 is the most recent.
func (h *history) At(i int) string { return h.lines[len(h.lines)-1-i] }

func appendLine(file, line string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(f, line); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
