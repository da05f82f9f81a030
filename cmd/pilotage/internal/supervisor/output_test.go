package supervisor

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// flush waits until the lines queued so far are written, or d passed.
func (o *output) flush(d time.Duration) {
	l := termLine{flushed: make(chan struct{})}
	o.closedMu.RLock()
	sent := false
	if !o.closed {
		select {
		case o.queue <- l:
			sent = true
		case <-time.After(d):
		}
	}
	o.closedMu.RUnlock()
	if !sent {
		return
	}
	select {
	case <-l.flushed:
	case <-time.After(d):
	}
}

// memSink is a LogSink keeping every line in memory.
type memSink struct {
	mu    sync.Mutex
	lines map[string][]string
}

func (m *memSink) Writer(source string) io.WriteCloser { return &memWriter{m: m, src: source} }

func (m *memSink) count(source string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.lines[source])
}

type memWriter struct {
	m   *memSink
	src string
	buf string
}

func (w *memWriter) Write(p []byte) (int, error) {
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	if w.m.lines == nil {
		w.m.lines = map[string][]string{}
	}
	w.buf += string(p)
	for {
		line, rest, ok := strings.Cut(w.buf, "\n")
		if !ok {
			return len(p), nil
		}
		w.m.lines[w.src] = append(w.m.lines[w.src], line)
		w.buf = rest
	}
}

func (w *memWriter) Close() error { return nil }

// A terminal that does not read never holds up a process's output or the
// log store: every line is stored, and the terminal gets what it can
// take, with a count of what it missed.
func TestSlowTerminalDoesNotBlockLogs(t *testing.T) {
	t.Parallel()
	term := &blockedWriter{release: make(chan struct{})}
	sink := &memSink{}
	o := newOutput(term, nil, false, sink, 10)
	r, w := io.Pipe()
	pumped := make(chan struct{})
	go func() { o.pump("app/0", r); close(pumped) }()
	const lines = 20000
	go func() {
		for i := range lines {
			fmt.Fprintf(w, "line %d\n", i)
		}
		w.Close()
	}()
	select {
	case <-pumped:
	case <-time.After(10 * time.Second):
		t.Fatal("the output of a process waited for the terminal")
	}
	if n := sink.count("app/0"); n != lines {
		t.Errorf("%d lines stored, want %d", n, lines)
	}
	close(term.release)
	o.close()
	if out := term.buf.String(); !strings.Contains(out, "lines not shown here: the terminal did not keep up") {
		t.Errorf("the terminal was not told of the lines it missed:\n%.300s", out)
	}
}

// brokenWriter fails like a pipe whose reader exited.
type brokenWriter struct{ writes int }

func (b *brokenWriter) Write([]byte) (int, error) {
	b.writes++
	return 0, syscall.EPIPE
}

// When writing to the terminal fails, it is given up: stderr is told once,
// lines are still stored, and logging never blocks.
func TestTerminalGone(t *testing.T) {
	t.Parallel()
	term := &brokenWriter{}
	var stderr syncBuffer
	sink := &memSink{}
	o := newOutput(term, &stderr, false, sink, 10)
	for i := range 100 {
		o.logf("line %d", i)
		o.flush(time.Second)
	}
	o.close()
	msg := "pilotage: the terminal output stopped (broken pipe); the app keeps running and its logs are still kept: see `pilotage logs -f`\n"
	if stderr.String() != msg {
		t.Errorf("stderr = %q, want %q", stderr.String(), msg)
	}
	if term.writes != 1 {
		t.Errorf("%d writes to a broken terminal, want 1", term.writes)
	}
	if n := sink.count(supervisorSource); n != 101 {
		t.Errorf("%d lines stored, want the 100 and the note", n)
	}
}
