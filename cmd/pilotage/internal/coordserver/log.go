package coordserver

import (
	"strings"
	"sync/atomic"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// closingErrors are the errors etcd logs when Close closes its listeners
// under its own serving goroutines: expected then, so not shown.
var closingErrors = []string{"use of closed network connection", "http: Server closed", "mux: server closed"}

// startingErrors are errors etcd logs at a start, to no effect: the
// storage version is written before a fresh store has recorded its first
// term, and again, successfully, at the next check (every few seconds).
var startingErrors = []string{"missing term information"}

// newLogger returns a zap logger of etcd's errors that writes each one to
// log as a line ("etcd: message {fields}"), dropping the expected ones
// (see quietCore).
func newLogger(log func(string), closing *atomic.Bool) *zap.Logger {
	if log == nil {
		return zap.NewNop()
	}
	enc := zapcore.NewConsoleEncoder(zapcore.EncoderConfig{MessageKey: "msg", LineEnding: "\n", ConsoleSeparator: " "})
	core := zapcore.NewCore(enc, zapcore.AddSync(lineWriter(log)), zap.ErrorLevel)
	return zap.New(quietCore{core, closing})
}

// lineWriter hands each line written to it to log.
type lineWriter func(string)

func (w lineWriter) Write(p []byte) (int, error) {
	for line := range strings.SplitSeq(strings.TrimRight(string(p), "\n"), "\n") {
		w("etcd: " + line)
	}
	return len(p), nil
}

// quietCore drops the entries that speak of startingErrors, and of
// closingErrors once closing is set.
type quietCore struct {
	zapcore.Core
	closing *atomic.Bool
}

func (c quietCore) With(fields []zapcore.Field) zapcore.Core {
	return quietCore{c.Core.With(fields), c.closing}
}

func (c quietCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c quietCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	if mentions(e, fields, startingErrors) || c.closing.Load() && mentions(e, fields, closingErrors) {
		return nil
	}
	return c.Core.Write(e, fields)
}

// mentions reports whether an entry speaks of one of errs.
func mentions(e zapcore.Entry, fields []zapcore.Field, errs []string) bool {
	texts := []string{e.Message}
	for _, f := range fields {
		if err, ok := f.Interface.(error); ok {
			texts = append(texts, err.Error())
		}
		texts = append(texts, f.String)
	}
	for _, t := range texts {
		for _, err := range errs {
			if strings.Contains(t, err) {
				return true
			}
		}
	}
	return false
}
