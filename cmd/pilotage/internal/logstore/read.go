package logstore

import (
	"bufio"
	"bytes"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Query selects the records Read prints.
type Query struct {
	// Sources selects sources by name or by a prefix of the name that ends
	// at a '.' or '/': "catalog", "catalog.Catalog" and "catalog.Catalog/1"
	// all select "catalog.Catalog/1", but "catalog.Catalog/1" does not
	// select "catalog.Catalog/10". The source of a process hosting several
	// components, "cart.Cart+catalog.Catalog/1", is selected as if it were
	// each of "cart.Cart/1" and "catalog.Catalog/1" too. Empty selects all
	// sources.
	Sources []string
	// SourcesExist says the Sources name processes known to exist (the
	// supervisor's own replicas): one without records yet selects none,
	// instead of failing with ErrNoSource, and following waits for it.
	SourcesExist bool
	// Follow keeps printing records as they are written, until Context is
	// done.
	Follow bool
	// Since, if not zero, skips older records.
	Since time.Time
	// Tail, if positive, prints only the last Tail records (before
	// following).
	Tail int
	// Context ends Follow; nil means context.Background().
	Context context.Context
	// Timestamps prefixes each line with the record's local time.
	Timestamps bool
}

// pollInterval is how often Read looks for new records when following.
const pollInterval = 200 * time.Millisecond

// Read prints the records of the logs in dir that q selects, merged across
// sources in time order, as "source | message" lines, the source names
// padded to a common width. When following, it returns nil once q.Context
// is done.
func Read(dir string, q Query, w io.Writer) error {
	r := &reader{dir: dir, q: q, out: bufio.NewWriter(w), tailers: map[string]*tailer{}}
	return r.read()
}

// A Record is one record of the logs, as Stream hands it over.
type Record struct {
	Time    time.Time
	Source  string
	Message string
	// Width is how wide Read pads source names at this record: the
	// longest of the first selected record of each file, and of the
	// sources met since.
	Width int
}

// Stream calls emit with the records Read would print, in the same order,
// and returns emit's first error. With q.Follow, it calls caughtUp (if
// not nil) once the stored records were handed over, before the new ones.
// q.Timestamps does not apply.
func Stream(dir string, q Query, emit func(Record) error, caughtUp func() error) error {
	r := &reader{dir: dir, q: q, emit: emit, caughtUp: caughtUp, tailers: map[string]*tailer{}}
	return r.read()
}

// read prints or emits the records of r.q.
func (r *reader) read() error {
	dir, q := r.dir, r.q
	ctx := q.Context
	if ctx == nil {
		ctx = context.Background()
	}
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("reading logs: %w", err)
	}
	if len(q.Sources) > 0 && !q.SourcesExist {
		if err := checkSources(dir, q.Sources); err != nil {
			return err
		}
	}
	defer r.closeAll()
	names, err := r.scan()
	if err != nil {
		return err
	}

	// Print what is there, merged.
	var its []*iter
	defer func() {
		for _, it := range its {
			it.close()
		}
	}()
	for _, n := range names {
		t := &tailer{base: filepath.Join(dir, n)}
		r.tailers[n] = t
		it, err := t.start()
		if err != nil {
			return err
		}
		its = append(its, it)
	}
	if err := r.merge(its); err != nil {
		return err
	}
	if err := r.flush(); err != nil || !q.Follow {
		return err
	}
	if r.caughtUp != nil {
		if err := r.caughtUp(); err != nil {
			return err
		}
	}

	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if err := r.poll(); err != nil {
			return err
		}
	}
}

type record struct {
	t   time.Time
	src string
	msg string
}

// parseRecord parses one line of a log file.
func parseRecord(line []byte) (record, bool) {
	ts, rest, ok := bytes.Cut(line, []byte{'\t'})
	if !ok {
		return record{}, false
	}
	src, msg, ok := bytes.Cut(rest, []byte{'\t'})
	if !ok {
		return record{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return record{}, false
	}
	return record{t: t, src: string(src), msg: string(msg)}, true
}

// matchSource reports whether the source src is selected by q.
func matchSource(src, q string) bool {
	if matchPrefix(src, q, "./") {
		return true
	}
	group, replica := src, ""
	if i := strings.LastIndexByte(src, '/'); i >= 0 && isDigits(src[i+1:]) {
		group, replica = src[:i], src[i:]
	}
	if !strings.Contains(group, "+") {
		return false
	}
	for _, m := range strings.Split(group, "+") {
		if matchPrefix(m+replica, q, "./") {
			return true
		}
	}
	return false
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// matchPrefix reports whether name is q or starts with q at a boundary:
// q ends with, or is followed in name by, one of the bytes in seps.
func matchPrefix(name, q, seps string) bool {
	if !strings.HasPrefix(name, q) {
		return false
	}
	if len(name) == len(q) || q == "" {
		return true
	}
	return strings.IndexByte(seps, q[len(q)-1]) >= 0 || strings.IndexByte(seps, name[len(q)]) >= 0
}

type reader struct {
	dir      string
	q        Query
	out      *bufio.Writer      // for Read
	emit     func(Record) error // for Stream, if out is nil
	caughtUp func() error       // for Stream; may be nil
	width    int
	tailers  map[string]*tailer // by file name without ".log"
}

// flush writes out what Read buffered.
func (r *reader) flush() error {
	if r.out == nil {
		return nil
	}
	return r.out.Flush()
}

// scan returns the sorted file names (without ".log") in the directory
// that may hold selected sources.
func (r *reader) scan() ([]string, error) {
	ents, err := os.ReadDir(r.dir)
	if err != nil {
		return nil, fmt.Errorf("reading logs: %w", err)
	}
	seen := map[string]bool{}
	var names []string
	for _, e := range ents {
		n := e.Name()
		if i := strings.LastIndex(n, ".log."); i > 0 {
			if _, err := strconv.Atoi(n[i+5:]); err == nil {
				n = n[:i+4]
			}
		}
		n, ok := strings.CutSuffix(n, ".log")
		if !ok || n == "" || seen[n] || !r.wantFile(n) {
			continue
		}
		seen[n] = true
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// wantFile reports whether the file of name may hold selected records. It
// is true for every file holding one, and for a few more, whose records
// the source test then rejects: a selected source, or one of its group's
// members, starts with the part of a query before any '/', and fileName
// maps the '+' between members to '_'.
func (r *reader) wantFile(name string) bool {
	if len(r.q.Sources) == 0 {
		return true
	}
	for _, s := range r.q.Sources {
		q, _, _ := strings.Cut(s, "/")
		if q == "" {
			return true
		}
		q = fileName(q)
		if strings.HasPrefix(name, q) || strings.Contains(name, "_"+q) {
			return true
		}
	}
	return false
}

func (r *reader) want(rec record) bool {
	if !r.q.Since.IsZero() && rec.t.Before(r.q.Since) {
		return false
	}
	if len(r.q.Sources) == 0 {
		return true
	}
	for _, s := range r.q.Sources {
		if matchSource(rec.src, s) {
			return true
		}
	}
	return false
}

func (r *reader) print(rec record) error {
	r.width = max(r.width, len(rec.src)) // a source new since the start
	out := Record{Time: rec.t, Source: rec.src, Message: rec.msg, Width: r.width}
	if r.out == nil {
		return r.emit(out)
	}
	return Print(r.out, out, r.q.Timestamps)
}

// Print writes rec as Read does: "source | message", the source padded to
// rec.Width, after the record's local time if timestamps is set.
func Print(w io.Writer, rec Record, timestamps bool) error {
	ts := ""
	if timestamps {
		ts = rec.Time.Local().Format("2006-01-02 15:04:05.000 ")
	}
	_, err := fmt.Fprintf(w, "%s%-*s | %s\n", ts, rec.Width, rec.Source, rec.Message)
	return err
}

// merge prints the records of its, in time order, or the last q.Tail of
// them.
func (r *reader) merge(its []*iter) error {
	var h iterHeap
	for _, it := range its {
		if err := r.advance(it); err != nil {
			return err
		}
		if it.ok {
			h = append(h, it)
			r.width = max(r.width, len(it.head.src))
		}
	}
	heap.Init(&h)
	var ring []record
	n := 0
	for len(h) > 0 {
		it := h[0]
		rec := it.head
		if r.q.Tail > 0 {
			if len(ring) < r.q.Tail {
				ring = append(ring, rec)
			} else {
				ring[n%r.q.Tail] = rec
			}
			n++
		} else if err := r.print(rec); err != nil {
			return err
		}
		if err := r.advance(it); err != nil {
			return err
		}
		if it.ok {
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
		}
	}
	if r.q.Tail > 0 && n > len(ring) {
		ring = append(ring[n%r.q.Tail:], ring[:n%r.q.Tail]...)
	}
	for _, rec := range ring {
		if err := r.print(rec); err != nil {
			return err
		}
	}
	return nil
}

// advance moves it to its next selected record.
func (r *reader) advance(it *iter) error {
	for {
		if err := it.next(); err != nil || !it.ok || r.want(it.head) {
			return err
		}
	}
}

// poll prints the records written since the last poll, and those of new
// sources.
func (r *reader) poll() error {
	var recs []record
	emit := func(line []byte) {
		if rec, ok := parseRecord(line); ok && r.want(rec) {
			recs = append(recs, rec)
		}
	}
	names, err := r.scan()
	if err != nil {
		return err
	}
	for _, n := range names {
		t := r.tailers[n]
		if t == nil {
			t = &tailer{base: filepath.Join(r.dir, n)}
			r.tailers[n] = t
			it, err := t.start()
			if err != nil {
				return err
			}
			for {
				if err := it.next(); err != nil {
					it.close()
					return err
				}
				if !it.ok {
					break
				}
				if r.want(it.head) {
					recs = append(recs, it.head)
				}
			}
			continue
		}
		if err := t.poll(emit); err != nil {
			return err
		}
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].t.Before(recs[j].t) })
	for _, rec := range recs {
		if err := r.print(rec); err != nil {
			return err
		}
	}
	return r.flush()
}

func (r *reader) closeAll() {
	for _, t := range r.tailers {
		if t.f != nil {
			t.f.Close()
			t.f = nil
		}
	}
}

// A tailer follows the files of one name across rotations.
type tailer struct {
	base    string      // path without ".log"
	f       *os.File    // the current file as last seen; nil if none yet
	info    os.FileInfo // of f
	pending []byte      // a partial last line of f
}

func (t *tailer) current() string { return t.base + ".log" }

// start opens the current file and returns an iterator over the records
// of the rotated files, oldest first, then of the current file. It leaves
// f after its last complete line.
func (t *tailer) start() (*iter, error) {
	f, err := os.Open(t.current())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading logs: %w", err)
	}
	if f != nil {
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("reading logs: %w", err)
		}
		t.f, t.info = f, st
	}
	var paths []string
	for i := 1; ; i++ {
		p := rotated(t.current(), i)
		st, err := os.Stat(p)
		if err != nil {
			break
		}
		if t.info != nil && os.SameFile(st, t.info) {
			continue // rotated since we opened it
		}
		paths = append(paths, p)
	}
	for i, j := 0, len(paths)-1; i < j; i, j = i+1, j-1 {
		paths[i], paths[j] = paths[j], paths[i]
	}
	return &iter{t: t, paths: paths}, nil
}

// poll passes the lines written since the last call to emit, following
// the file through rotations.
func (t *tailer) poll(emit func([]byte)) error {
	if t.f == nil {
		f, err := os.Open(t.current())
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading logs: %w", err)
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return fmt.Errorf("reading logs: %w", err)
		}
		t.f, t.info, t.pending = f, st, nil
	}
	if err := t.drain(emit); err != nil {
		return err
	}
	st, err := os.Stat(t.current())
	if errors.Is(err, os.ErrNotExist) {
		return nil // being rotated; look again next time
	}
	if err != nil {
		return fmt.Errorf("reading logs: %w", err)
	}
	if os.SameFile(st, t.info) {
		return nil
	}

	// Rotated: finish the old file, read any files rotated after it, then
	// start on the new current file.
	if err := t.drain(emit); err != nil {
		return err
	}
	t.f.Close()
	old := t.info
	t.f, t.info, t.pending = nil, nil, nil
	k := 0
	for i := 1; ; i++ {
		st, err := os.Stat(rotated(t.current(), i))
		if err != nil {
			k = i // the old file is gone: all rotated files are newer
			break
		}
		if os.SameFile(st, old) {
			k = i
			break
		}
	}
	for i := k - 1; i >= 1; i-- {
		if err := readLines(rotated(t.current(), i), emit); err != nil {
			return err
		}
	}
	return t.poll(emit)
}

// drain passes the complete lines from f's position to its end to emit,
// keeping a partial last line for next time.
func (t *tailer) drain(emit func([]byte)) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := t.f.Read(buf)
		if n > 0 {
			t.pending = append(t.pending, buf[:n]...)
			rest := t.pending
			for {
				i := bytes.IndexByte(rest, '\n')
				if i < 0 {
					break
				}
				emit(rest[:i])
				rest = rest[i+1:]
			}
			t.pending = append(t.pending[:0], rest...)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading logs: %w", err)
		}
	}
}

// readLines passes the complete lines of the file at path to emit.
func readLines(path string, emit func([]byte)) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading logs: %w", err)
	}
	defer f.Close()
	t := &tailer{f: f}
	return t.drain(emit)
}

// An iter reads records from a list of rotated files, then from its
// tailer's current file.
type iter struct {
	t     *tailer
	paths []string
	f     *os.File // open rotated file, or t.f
	br    *bufio.Reader
	head  record
	ok    bool // head is valid
}

// next sets head to the next record, or ok to false at the end.
func (it *iter) next() error {
	for {
		if it.br == nil {
			switch {
			case len(it.paths) > 0:
				f, err := os.Open(it.paths[0])
				it.paths = it.paths[1:]
				if errors.Is(err, os.ErrNotExist) {
					continue // rotated away meanwhile
				}
				if err != nil {
					return fmt.Errorf("reading logs: %w", err)
				}
				it.f = f
			case it.t.f != nil && it.f != it.t.f:
				it.f = it.t.f
			default:
				it.ok = false
				return nil
			}
			it.br = bufio.NewReaderSize(it.f, 64<<10)
		}
		line, err := it.br.ReadBytes('\n')
		if err == nil {
			if rec, ok := parseRecord(line[:len(line)-1]); ok {
				it.head, it.ok = rec, true
				return nil
			}
			continue
		}
		if err != io.EOF {
			return fmt.Errorf("reading logs: %w", err)
		}
		it.br = nil
		if it.f == it.t.f {
			it.t.pending = line // the tailer continues from here
			it.ok = false
			return nil
		}
		it.f.Close()
		it.f = nil
	}
}

// close closes the rotated file it may have open.
func (it *iter) close() {
	if it.f != nil && it.f != it.t.f {
		it.f.Close()
	}
	it.f = nil
}

type iterHeap []*iter

func (h iterHeap) Len() int           { return len(h) }
func (h iterHeap) Less(i, j int) bool { return h[i].head.t.Before(h[j].head.t) }
func (h iterHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *iterHeap) Push(x any)        { *h = append(*h, x.(*iter)) }
func (h *iterHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// ErrNoSource is wrapped by the error of Read when a name of Query.Sources
// selects no source of the logs.
var ErrNoSource = errors.New("no logs of")

// checkSources reports a query that selects none of the sources in dir,
// listing them.
func checkSources(dir string, queries []string) error {
	srcs, err := Sources(dir)
	if err != nil {
		return err
	}
	for _, q := range queries {
		found := false
		for _, src := range srcs {
			if matchSource(src, q) {
				found = true
				break
			}
		}
		if !found {
			list := strings.Join(srcs, ", ")
			if list == "" {
				list = "none yet"
			}
			return fmt.Errorf("%w %q (sources: %s)", ErrNoSource, q, list)
		}
	}
	return nil
}

// Sources returns the sorted names of the sources with records in dir: the
// source of the first record of each file.
func Sources(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading logs: %w", err)
	}
	seen := map[string]bool{}
	var out []string
	for _, e := range ents {
		if !strings.Contains(e.Name(), ".log") || e.IsDir() {
			continue
		}
		src, ok := firstSource(filepath.Join(dir, e.Name()))
		if ok && !seen[src] {
			seen[src] = true
			out = append(out, src)
		}
	}
	sort.Strings(out)
	return out, nil
}

// firstSource returns the source of the first record of the file at path.
func firstSource(path string) (string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 4096)
	line, err := br.ReadSlice('\n')
	if err != nil && !errors.Is(err, bufio.ErrBufferFull) && len(line) == 0 {
		return "", false
	}
	// The source comes after the time, well within the first 4 KiB.
	ts, rest, ok := bytes.Cut(line, []byte{'\t'})
	if !ok || len(ts) == 0 {
		return "", false
	}
	src, _, ok := bytes.Cut(rest, []byte{'\t'})
	if !ok || len(src) == 0 {
		return "", false
	}
	return string(src), true
}
