package cli

import (
	"bytes"
	"io"
)

// A traceFilter passes on the lines written to it that belong to one trace:
// those carrying trace_id=ID (slog's text form) or "trace_id":"ID" (its
// JSON form). A line cut by a write waits for its end (or Flush).
type traceFilter struct {
	w       io.Writer
	id      string
	partial []byte
}

func (f *traceFilter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			f.partial = append(f.partial, p...)
			return n, nil
		}
		line := p[:i+1]
		if len(f.partial) > 0 {
			line = append(f.partial, line...)
			f.partial = f.partial[:0]
		}
		if err := f.emit(line); err != nil {
			return 0, err
		}
		p = p[i+1:]
	}
	return n, nil
}

func (f *traceFilter) emit(line []byte) error {
	if bytes.Contains(line, []byte("trace_id="+f.id)) || bytes.Contains(line, []byte(`"trace_id":"`+f.id)) {
		_, err := f.w.Write(line)
		return err
	}
	return nil
}

// Flush passes on a last line without a newline, if it belongs.
func (f *traceFilter) Flush() error {
	line := f.partial
	f.partial = nil
	return f.emit(line)
}
