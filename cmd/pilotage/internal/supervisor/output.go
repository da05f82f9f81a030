package supervisor

import (
	"bufio"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A LogSink stores log lines by source; *logstore.Store is one.
type LogSink interface {
	Writer(source string) io.WriteCloser
}

// supervisorSource is the source name of the supervisor's own lines.
const supervisorSource = "pilotage"

// Bounds of the output.
const (
	// maxLineBytes is the longest line passed on as one; a longer run of
	// bytes without a newline is split, as the log store does.
	maxLineBytes = 64 << 10
	// terminalQueue is how many lines wait for a terminal that does not
	// keep up; more are dropped from the terminal (never from the log
	// sink), and counted.
	terminalQueue = 4096
)

// output writes every process's lines, prefixed with their source
// ("catalog.Catalog/1 | ..."), to the log sink and to the terminal.
//
// The sink gets every line as it comes, from the goroutine that read it.
// The terminal gets its lines from a bounded queue, written by a goroutine
// of its own: a terminal that is slow or stopped (Ctrl-S, a full pipe, a
// reader that went away) never holds up a process writing its output, the
// log sink, or the supervisor (which logs with its lock held). When the
// queue is full, lines are dropped from the terminal and their number is
// reported once it takes lines again. When a write to the terminal fails
// (the reader of a pipe exited, the terminal hung up), the terminal is
// given up: this is said once on stderr, and the app keeps running with
// its logs still stored.
type output struct {
	w      io.Writer // the terminal
	stderr io.Writer // told once if w fails; may be nil
	color  bool
	width  int // of the source column
	logs   LogSink
	self   io.WriteCloser // the sink's writer for the supervisor's lines
	selfMu sync.Mutex     // serializes writes to self

	queue    chan termLine
	dropped  atomic.Int64
	gone     atomic.Bool   // the terminal failed: nothing more is queued
	done     chan struct{} // closed when the terminal goroutine returned
	closing  sync.Once
	closedMu sync.RWMutex // held for reading while sending on queue
	closed   bool
}

// termLine is one line for the terminal; flushed, if set, is closed once
// the lines queued before it are written.
type termLine struct {
	source  string // "" for an unprefixed line
	text    string
	flushed chan struct{}
}

func newOutput(w, stderr io.Writer, color bool, logs LogSink, width int) *output {
	if w == nil {
		w = io.Discard
	}
	o := &output{w: w, stderr: stderr, color: color, logs: logs, width: max(width, len(supervisorSource)),
		queue: make(chan termLine, terminalQueue), done: make(chan struct{})}
	if logs != nil {
		o.self = logs.Writer(supervisorSource)
	}
	go o.writeTerminal()
	return o
}

var palette = []string{"31", "32", "33", "34", "35", "36", "91", "92", "93", "94", "95", "96"}

func (o *output) prefix(source string) string {
	p := fmt.Sprintf("%-*s |", o.width, source)
	if !o.color {
		return p
	}
	h := fnv.New32a()
	h.Write([]byte(strings.SplitN(source, "/", 2)[0]))
	return "\x1b[" + palette[h.Sum32()%uint32(len(palette))] + "m" + p + "\x1b[0m"
}

// logf stores a line of the supervisor's own and queues it for the
// terminal. It never blocks on the terminal.
func (o *output) logf(format string, args ...any) {
	text := fmt.Sprintf(format, args...)
	o.store(text)
	o.enqueue(termLine{source: supervisorSource, text: text})
}

// plainf is logf for an unprefixed line (the listener addresses, "app
// ready").
func (o *output) plainf(format string, args ...any) {
	text := fmt.Sprintf(format, args...)
	o.store(text)
	o.enqueue(termLine{text: text})
}

// store writes one of the supervisor's lines to the sink.
func (o *output) store(text string) {
	if o.self == nil {
		return
	}
	o.selfMu.Lock()
	defer o.selfMu.Unlock()
	_, _ = io.WriteString(o.self, text+"\n") // the sink drops what it cannot store
}

// enqueue queues l for the terminal, or drops and counts it if the queue
// is full. It never blocks.
func (o *output) enqueue(l termLine) {
	if o.gone.Load() {
		return
	}
	o.closedMu.RLock()
	defer o.closedMu.RUnlock()
	if o.closed {
		return
	}
	select {
	case o.queue <- l:
	default:
		o.dropped.Add(1)
	}
}

// writeTerminal writes the queued lines until the queue is closed.
func (o *output) writeTerminal() {
	defer close(o.done)
	bw := bufio.NewWriterSize(o.w, 32<<10)
	for l := range o.queue {
		if o.gone.Load() {
			if l.flushed != nil {
				close(l.flushed)
			}
			continue
		}
		if n := o.dropped.Swap(0); n > 0 {
			o.writeLine(bw, supervisorSource, fmt.Sprintf("(%d lines not shown here: the terminal did not keep up; `pilotage logs` has them all)", n))
		}
		if l.flushed == nil {
			o.writeLine(bw, l.source, l.text)
		}
		// Write out once nothing more is waiting: a batch per system call,
		// and nothing left unwritten while the terminal is idle.
		if len(o.queue) == 0 || l.flushed != nil {
			if err := bw.Flush(); err != nil {
				o.giveUp(err)
			}
		}
		if l.flushed != nil {
			close(l.flushed)
		}
	}
	if err := bw.Flush(); err != nil && !o.gone.Load() {
		o.giveUp(err)
	}
}

func (o *output) writeLine(w *bufio.Writer, source, text string) {
	if source != "" {
		w.WriteString(o.prefix(source))
		w.WriteByte(' ')
	}
	w.WriteString(text)
	w.WriteByte('\n')
}

// giveUp stops writing to a terminal that failed, and says so once on
// stderr (which may be the same terminal, and fail too).
func (o *output) giveUp(err error) {
	if o.gone.Swap(true) {
		return
	}
	msg := fmt.Sprintf("the terminal output stopped (%v); the app keeps running and its logs are still kept: see `pilotage logs -f`", err)
	o.store(msg)
	if o.stderr != nil {
		fmt.Fprintf(o.stderr, "pilotage: %s\n", msg)
	}
}

// pump copies the lines of r (a child's stdout or stderr) to the sink and
// the terminal until EOF. A line longer than maxLineBytes is passed on in
// pieces.
func (o *output) pump(source string, r io.Reader) {
	var sink io.WriteCloser
	if o.logs != nil {
		sink = o.logs.Writer(source)
		defer sink.Close()
	}
	br := bufio.NewReaderSize(r, maxLineBytes)
	for {
		b, err := br.ReadSlice('\n')
		if len(b) > 0 {
			if sink != nil {
				_, _ = sink.Write(b) // stores complete lines; drops what it cannot store
				if b[len(b)-1] != '\n' {
					_, _ = sink.Write([]byte{'\n'}) // a split or final partial line
				}
			}
			o.enqueue(termLine{source: source, text: strings.TrimRight(string(b), "\r\n")})
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

// close writes what is queued (waiting at most 2s for a blocked terminal)
// and closes the sink's writer.
func (o *output) close() {
	o.closing.Do(func() {
		o.closedMu.Lock()
		o.closed = true
		close(o.queue)
		o.closedMu.Unlock()
		select {
		case <-o.done:
		case <-time.After(2 * time.Second):
		}
		if o.self != nil {
			o.selfMu.Lock()
			_ = o.self.Close()
			o.selfMu.Unlock()
		}
	})
}
