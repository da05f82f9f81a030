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
	// selfQueue is how many of its own lines the supervisor queues for a
	// terminal that does not keep up; more are dropped, and counted.
	selfQueue = 1024
)

// output writes every process's lines, prefixed with their source
// ("catalog.Catalog/1 | ..."), to the terminal and to the log sink.
//
// The supervisor's own lines are written by a goroutine of their own from
// a bounded queue, so that logging, done with the supervisor's lock held,
// never blocks on a terminal that is slow or stopped (Ctrl-S, a full
// pipe): when the queue is full, lines are dropped and their number is
// reported once the terminal takes lines again. Children's lines are
// written by their pumps, which do wait for the terminal.
type output struct {
	mu    sync.Mutex // serializes writes to w
	w     io.Writer
	color bool
	width int // of the source column
	logs  LogSink
	self  io.WriteCloser // the sink's writer for the supervisor's lines

	queue   chan selfLine
	dropped atomic.Int64
	done    chan struct{} // closed when the writer goroutine returned
	closing sync.Once
}

// selfLine is one of the supervisor's lines; flushed, if set, is closed
// once the lines queued before it are written.
type selfLine struct {
	text    string
	plain   bool // without the source prefix
	flushed chan struct{}
}

func newOutput(w io.Writer, color bool, logs LogSink, width int) *output {
	if w == nil {
		w = io.Discard
	}
	o := &output{w: w, color: color, logs: logs, width: max(width, len(supervisorSource)),
		queue: make(chan selfLine, selfQueue), done: make(chan struct{})}
	if logs != nil {
		o.self = logs.Writer(supervisorSource)
	}
	go o.writeSelf()
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

// line writes one line of source to the terminal.
func (o *output) line(source, text string) {
	text = strings.TrimRight(text, "\r\n")
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintf(o.w, "%s %s\n", o.prefix(source), text)
}

// logf queues a line of the supervisor's own, for the terminal and the
// sink. It never blocks.
func (o *output) logf(format string, args ...any) {
	o.enqueue(selfLine{text: fmt.Sprintf(format, args...)})
}

// plainf queues an unprefixed line (the listener addresses, "app ready").
func (o *output) plainf(format string, args ...any) {
	o.enqueue(selfLine{text: fmt.Sprintf(format, args...), plain: true})
}

func (o *output) enqueue(l selfLine) {
	defer func() { _ = recover() }() // queue closed: the supervisor has returned
	select {
	case o.queue <- l:
	default:
		o.dropped.Add(1)
	}
}

// writeSelf writes the queued lines of the supervisor until the queue is
// closed.
func (o *output) writeSelf() {
	defer close(o.done)
	for l := range o.queue {
		if l.flushed != nil {
			close(l.flushed)
			continue
		}
		if n := o.dropped.Swap(0); n > 0 {
			o.writeSelfLine(selfLine{text: fmt.Sprintf("(%d lines of the supervisor dropped: the output was blocked)", n)})
		}
		o.writeSelfLine(l)
	}
}

func (o *output) writeSelfLine(l selfLine) {
	if l.plain {
		o.mu.Lock()
		fmt.Fprintln(o.w, l.text)
		o.mu.Unlock()
	} else {
		o.line(supervisorSource, l.text)
	}
	if o.self != nil {
		_, _ = io.WriteString(o.self, l.text+"\n")
	}
}

// flush waits until the lines queued so far are written, or d passed.
func (o *output) flush(d time.Duration) {
	l := selfLine{flushed: make(chan struct{})}
	sent := func() (ok bool) {
		defer func() { _ = recover() }() // closed: everything was written
		select {
		case o.queue <- l:
			return true
		case <-time.After(d):
			return false
		}
	}()
	if !sent {
		return
	}
	select {
	case <-l.flushed:
	case <-time.After(d):
	}
}

// pump copies the lines of r (a child's stdout or stderr) until EOF. A
// line longer than maxLineBytes is passed on in pieces.
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
			text := string(b)
			o.line(source, text)
			if sink != nil {
				if !strings.HasSuffix(text, "\n") {
					text += "\n"
				}
				_, _ = io.WriteString(sink, text)
			}
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
		close(o.queue)
		select {
		case <-o.done:
		case <-time.After(2 * time.Second):
		}
		if o.self != nil {
			_ = o.self.Close()
		}
	})
}
