package supervisor

import (
	"bufio"
	"fmt"
	"hash/fnv"
	"io"
	"strings"
	"sync"
)

// A LogSink stores log lines by source; *logstore.Store is one.
type LogSink interface {
	Writer(source string) io.WriteCloser
}

// supervisorSource is the source name of the supervisor's own lines.
const supervisorSource = "pilotage"

// output writes every process's lines, prefixed with their source
// ("catalog.Catalog/1 | ..."), to the terminal and to the log sink.
type output struct {
	mu    sync.Mutex
	w     io.Writer
	color bool
	width int // of the source column
	logs  LogSink
	self  io.WriteCloser // the sink's writer for the supervisor's lines
}

func newOutput(w io.Writer, color bool, logs LogSink, width int) *output {
	if w == nil {
		w = io.Discard
	}
	o := &output{w: w, color: color, logs: logs, width: max(width, len(supervisorSource))}
	if logs != nil {
		o.self = logs.Writer(supervisorSource)
	}
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

// logf writes a line of the supervisor's own, to the terminal and the sink.
func (o *output) logf(format string, args ...any) {
	text := fmt.Sprintf(format, args...)
	o.line(supervisorSource, text)
	if o.self != nil {
		_, _ = io.WriteString(o.self, text+"\n")
	}
}

// plainf writes an unprefixed line (the listener addresses, "app ready").
func (o *output) plainf(format string, args ...any) {
	text := fmt.Sprintf(format, args...)
	o.mu.Lock()
	fmt.Fprintln(o.w, text)
	o.mu.Unlock()
	if o.self != nil {
		_, _ = io.WriteString(o.self, text+"\n")
	}
}

// pump copies the lines of r (a child's stdout or stderr) until EOF.
func (o *output) pump(source string, r io.Reader) {
	var sink io.WriteCloser
	if o.logs != nil {
		sink = o.logs.Writer(source)
		defer sink.Close()
	}
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		text, err := br.ReadString('\n')
		if text != "" {
			o.line(source, text)
			if sink != nil {
				if !strings.HasSuffix(text, "\n") {
					text += "\n"
				}
				_, _ = io.WriteString(sink, text)
			}
		}
		if err != nil {
			return
		}
	}
}

func (o *output) close() {
	if o.self != nil {
		_ = o.self.Close()
	}
}
