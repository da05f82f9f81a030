// Package logstore keeps the output of an application's processes on disk,
// bounded and rotated, and reads it back merged in time order.
//
// Each source (a process such as "catalog.Catalog/1", or a unit such as
// "redis") has its own file, <dir>/<name>.log, where name is the source with
// every byte outside [A-Za-z0-9._-] replaced by '_'. A file holds one record
// per line, tab-separated:
//
//	2024-05-01T10:00:00.123456789Z	catalog.Catalog/1	the message
//
// The time is RFC 3339 in UTC with a fixed nine-digit fraction, so records
// sort as text too. When a file would exceed Options.MaxFileBytes it is
// rotated (name.log becomes name.log.1, name.log.1 becomes name.log.2, and
// so on) and files beyond Options.MaxFiles are deleted.
package logstore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// Options bound the disk use of a Store.
type Options struct {
	MaxFileBytes int64 // size at which a file is rotated; default 8 MiB
	MaxFiles     int   // files kept per source, current one included; default 3
}

const (
	defaultMaxFileBytes = 8 << 20
	defaultMaxFiles     = 3

	// maxLine is the longest partial line a Writer buffers; longer runs of
	// bytes without a newline are stored as several records.
	maxLine = 64 << 10

	timeLayout = "2006-01-02T15:04:05.000000000Z07:00"
)

// A Store writes the logs of many sources into one directory.
type Store struct {
	dir  string
	opts Options

	mu      sync.Mutex
	closed  bool
	files   map[string]*file // by file name without ".log"
	writers map[*writer]bool
}

// Open opens (creating it if needed) the log directory dir. Existing logs
// are appended to.
func Open(dir string, opts Options) (*Store, error) {
	if opts.MaxFileBytes <= 0 {
		opts.MaxFileBytes = defaultMaxFileBytes
	}
	if opts.MaxFiles <= 0 {
		opts.MaxFiles = defaultMaxFiles
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("logstore: %w", err)
	}
	return &Store{dir: dir, opts: opts, files: map[string]*file{}, writers: map[*writer]bool{}}, nil
}

// Writer returns a writer whose complete lines are stored as records of
// source. Several writers may share a source (a process's stdout and
// stderr); each buffers its own partial line. Writers are safe for
// concurrent use; Close stores a trailing partial line.
//
// Write fails only once the writer or the Store is closed. A record that
// cannot be written to disk (disk full) is dropped, so that logging never
// stalls or kills (by SIGPIPE) the process whose output it is; the first
// such error is returned by Store.Close.
func (s *Store) Writer(source string) io.WriteCloser {
	w := &writer{s: s, src: source}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		w.closed = true
		return w
	}
	name := fileName(source)
	f := s.files[name]
	if f == nil {
		f = &file{path: filepath.Join(s.dir, name+".log"), opts: s.opts}
		s.files[name] = f
	}
	w.f = f
	s.writers[w] = true
	return w
}

// Close stores the partial lines of writers not yet closed, closes all files
// and makes later writes fail.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	ws := make([]*writer, 0, len(s.writers))
	for w := range s.writers {
		ws = append(ws, w)
	}
	files := s.files
	s.writers, s.files = nil, nil
	s.mu.Unlock()

	var errs []error
	for _, w := range ws {
		w.close() // a failure is also recorded by the file
	}
	for _, f := range files {
		errs = append(errs, f.close())
	}
	return errors.Join(errs...)
}

// Dir returns the directory the Store writes into.
func (s *Store) Dir() string { return s.dir }

// Reopen makes the Store write into its directory as it is now: it
// recreates the directory if it was removed and closes the open files, so
// that the next record of each source opens its file again, creating it.
// Without it, records would go on to files that were removed. Writers stay
// valid.
func (s *Store) Reopen() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errClosed
	}
	files := make([]*file, 0, len(s.files))
	for _, f := range s.files {
		files = append(files, f)
	}
	s.mu.Unlock()
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("logstore: %w", err)
	}
	var errs []error
	for _, f := range files {
		errs = append(errs, f.reopen())
	}
	return errors.Join(errs...)
}

var errClosed = errors.New("logstore: closed")

// fileName maps a source to a safe file name (without extension). The
// mapping is byte for byte, so names keep the width of their sources.
func fileName(source string) string {
	if source == "" {
		return "_"
	}
	b := []byte(source)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok || i == 0 && c == '.' {
			b[i] = '_'
		}
	}
	return string(b)
}

// A writer splits its input into lines for one source.
type writer struct {
	s   *Store
	src string

	mu     sync.Mutex
	f      *file
	buf    []byte // partial line
	closed bool
}

func (w *writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, errClosed
	}
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		room := maxLine - len(w.buf)
		switch {
		case i >= 0 && i <= room:
			w.buf = append(w.buf, p[:i]...)
			p = p[i+1:]
		case i < 0 && len(p) <= room:
			w.buf = append(w.buf, p...)
			return n, nil
		default: // too long for one record
			w.buf = append(w.buf, p[:room]...)
			p = p[room:]
		}
		if err := w.f.append(w.src, w.buf); err == errClosed {
			return n - len(p), err
		}
		w.buf = w.buf[:0]
	}
	return n, nil
}

// Close stores the partial line, if any. Later writes fail.
func (w *writer) Close() error {
	err := w.close()
	w.s.mu.Lock()
	delete(w.s.writers, w)
	w.s.mu.Unlock()
	return err
}

func (w *writer) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	var err error
	if len(w.buf) > 0 && w.f != nil {
		err = w.f.append(w.src, w.buf)
		w.buf = nil
	}
	if err == errClosed {
		err = nil // the Store was closed first and stored what it could
	}
	return err
}

// A file is the current log file of one source name, rotated as it grows.
type file struct {
	path string
	opts Options

	mu     sync.Mutex
	f      *os.File // nil until first write, after close or a failed rotation
	size   int64
	done   bool
	rec    []byte // scratch
	failed error  // first write error, for Store.Close
}

// append writes one record, rotating first if it would not fit. It returns
// errClosed once the file is closed, or the error that made it drop the
// record.
func (f *file) append(src string, msg []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		return errClosed
	}
	err := f.write(src, msg)
	if err != nil && f.failed == nil {
		f.failed = err
	}
	return err
}

func (f *file) write(src string, msg []byte) error {
	if f.f == nil {
		if err := f.open(); err != nil {
			return err
		}
	}
	rec := time.Now().UTC().AppendFormat(f.rec[:0], timeLayout)
	rec = append(rec, '\t')
	rec = appendClean(rec, src)
	rec = append(rec, '\t')
	rec = append(rec, msg...)
	rec = append(rec, '\n')
	f.rec = rec[:0]
	if f.size > 0 && f.size+int64(len(rec)) > f.opts.MaxFileBytes {
		if err := f.rotate(); err != nil {
			return err
		}
	}
	n, err := f.f.Write(rec)
	f.size += int64(n)
	if err != nil {
		return fmt.Errorf("logstore: %w", err)
	}
	return nil
}

// appendClean appends src with tabs and newlines, which would break the
// record format, replaced by spaces.
func appendClean(b []byte, src string) []byte {
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c == '\t' || c == '\n' || c == '\r' {
			c = ' '
		}
		b = append(b, c)
	}
	return b
}

func (f *file) open() error {
	fh, err := os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("logstore: %w", err)
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return fmt.Errorf("logstore: %w", err)
	}
	f.f, f.size = fh, st.Size()
	return nil
}

// rotate shifts path.log.N to path.log.N+1, dropping the oldest, and starts
// a new current file.
func (f *file) rotate() error {
	if err := f.f.Close(); err != nil {
		return fmt.Errorf("logstore: %w", err)
	}
	f.f = nil
	last := f.opts.MaxFiles - 1
	if last == 0 {
		if err := os.Remove(f.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("logstore: rotating: %w", err)
		}
	} else {
		if err := os.Remove(rotated(f.path, last)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("logstore: rotating: %w", err)
		}
		for i := last - 1; i >= 0; i-- {
			err := os.Rename(rotated(f.path, i), rotated(f.path, i+1))
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("logstore: rotating: %w", err)
			}
		}
	}
	return f.open()
}

// rotated returns the name of the i'th rotated file of path (i = 0: path).
func rotated(path string, i int) string {
	if i == 0 {
		return path
	}
	return path + "." + strconv.Itoa(i)
}

// reopen closes the file, if open, for the next record to open it again.
func (f *file) reopen() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.f == nil {
		return nil
	}
	err := f.f.Close()
	f.f = nil
	if err != nil {
		return fmt.Errorf("logstore: %w", err)
	}
	return nil
}

func (f *file) close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.done = true
	err := f.failed
	if f.f != nil {
		if cerr := f.f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("logstore: %w", cerr)
		}
		f.f = nil
	}
	return err
}
