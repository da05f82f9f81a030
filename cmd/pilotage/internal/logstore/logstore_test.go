package logstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func open(t *testing.T, opts Options) (*Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "logs")
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

func read(t *testing.T, dir string, q Query) string {
	t.Helper()
	var b bytes.Buffer
	if err := Read(dir, q, &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func write(t *testing.T, w io.Writer, s string) {
	t.Helper()
	if _, err := io.WriteString(w, s); err != nil {
		t.Fatal(err)
	}
}

func TestRotationBoundsDisk(t *testing.T) {
	const max, files = 4096, 3
	s, dir := open(t, Options{MaxFileBytes: max, MaxFiles: files})
	w := s.Writer("catalog.Catalog/1")
	line := strings.Repeat("x", 80)
	n := 0
	for written := 0; written < 10*max; written += len(line) + 1 {
		write(t, w, fmt.Sprintf("%06d %s\n", n, line))
		n++
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	var names []string
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		total += fi.Size()
		names = append(names, e.Name())
	}
	want := []string{"catalog.Catalog_1.log", "catalog.Catalog_1.log.1", "catalog.Catalog_1.log.2"}
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Errorf("files = %v, want %v", names, want)
	}
	if lim := int64(files*max + 200); total > lim {
		t.Errorf("total size %d > %d", total, lim)
	}
	out := read(t, dir, Query{})
	if strings.Contains(out, "| 000000 ") {
		t.Errorf("oldest line not dropped")
	}
	if !strings.Contains(out, fmt.Sprintf("| %06d ", n-1)) {
		t.Errorf("newest line missing")
	}
	// What is kept is contiguous and in order.
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	var first int
	fmt.Sscanf(strings.TrimPrefix(lines[0], "catalog.Catalog/1 | "), "%d", &first)
	for i, l := range lines {
		if want := fmt.Sprintf("catalog.Catalog/1 | %06d %s", first+i, line); l != want {
			t.Fatalf("line %d = %q, want %q", i, l, want)
		}
	}
	if len(lines) < (files-1)*max/(len(line)+60) {
		t.Errorf("only %d lines kept", len(lines))
	}
}

func TestRotateOneFile(t *testing.T) {
	s, dir := open(t, Options{MaxFileBytes: 200, MaxFiles: 1})
	w := s.Writer("a")
	for i := range 20 {
		write(t, w, fmt.Sprintf("line %d\n", i))
	}
	fi, err := os.Stat(filepath.Join(dir, "a.log"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > 200 {
		t.Errorf("size %d > 200", fi.Size())
	}
	if out := read(t, dir, Query{Tail: 1}); out != "a | line 19\n" {
		t.Errorf("got %q", out)
	}
}

func TestPartialLines(t *testing.T) {
	s, dir := open(t, Options{})
	w := s.Writer("redis")
	write(t, w, "hel")
	write(t, w, "lo\nwor")
	write(t, w, "ld\n\nlast")
	if out := read(t, dir, Query{}); out != "redis | hello\nredis | world\nredis | \n" {
		t.Errorf("before Close: %q", out)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if out := read(t, dir, Query{}); out != "redis | hello\nredis | world\nredis | \nredis | last\n" {
		t.Errorf("after Close: %q", out)
	}
	if _, err := w.Write([]byte("x\n")); err == nil {
		t.Error("Write after Close succeeded")
	}
}

func TestStoreCloseFlushes(t *testing.T) {
	s, dir := open(t, Options{})
	w := s.Writer("a")
	write(t, w, "partial")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if out := read(t, dir, Query{}); out != "a | partial\n" {
		t.Errorf("got %q", out)
	}
	if _, err := w.Write([]byte("x\n")); err == nil {
		t.Error("Write after Store.Close succeeded")
	}
	if err := w.Close(); err != nil {
		t.Errorf("Close after Store.Close: %v", err)
	}
}

func TestLongLineSplit(t *testing.T) {
	s, dir := open(t, Options{})
	w := s.Writer("a")
	write(t, w, strings.Repeat("y", maxLine+10)+"\n")
	write(t, w, strings.Repeat("z", maxLine))
	write(t, w, "\n")
	out := read(t, dir, Query{})
	y, z := strings.Repeat("y", maxLine), strings.Repeat("z", maxLine)
	if want := "a | " + y + "\na | yyyyyyyyyy\na | " + z + "\n"; out != want {
		t.Errorf("got %d bytes, want %d", len(out), len(want))
	}
}

func TestAppendsAcrossOpens(t *testing.T) {
	dir := t.TempDir()
	for _, msg := range []string{"one", "two"} {
		s, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		write(t, s.Writer("a"), msg+"\n")
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if out := read(t, dir, Query{}); out != "a | one\na | two\n" {
		t.Errorf("got %q", out)
	}
}

func TestConcurrentWriters(t *testing.T) {
	s, dir := open(t, Options{MaxFileBytes: 1 << 20})
	const procs, writersPer, lines = 4, 2, 200
	var wg sync.WaitGroup
	for p := range procs {
		src := fmt.Sprintf("p/%d", p)
		for k := range writersPer {
			w := s.Writer(src) // stdout and stderr
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range lines {
					// Several lines and partial lines per write.
					fmt.Fprintf(w, "w%d-%d\nw%d-", k, 2*i, k)
					fmt.Fprintf(w, "%d\n", 2*i+1)
				}
				w.Close()
			}()
		}
	}
	wg.Wait()
	out := read(t, dir, Query{})
	got := map[string]int{}
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		got[l]++
	}
	if n := len(got); n != procs*writersPer*2*lines {
		t.Errorf("%d distinct lines, want %d", n, procs*writersPer*2*lines)
	}
	for p := range procs {
		for k := range writersPer {
			for i := range 2 * lines {
				if l := fmt.Sprintf("p/%d | w%d-%d", p, k, i); got[l] != 1 {
					t.Fatalf("line %q seen %d times", l, got[l])
				}
			}
		}
	}
}

// writeRecords writes a log file by hand, with chosen times.
func writeRecords(t *testing.T, path string, recs ...string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.Join(recs, "")), 0o600); err != nil {
		t.Fatal(err)
	}
}

func rec(sec int, src, msg string) string {
	ts := time.Date(2024, 5, 1, 10, 0, sec, 0, time.UTC).Format(timeLayout)
	return ts + "\t" + src + "\t" + msg + "\n"
}

func TestReadMergeAndSelect(t *testing.T) {
	dir := t.TempDir()
	writeRecords(t, filepath.Join(dir, "catalog.Catalog_1.log.1"), rec(1, "catalog.Catalog/1", "c1"), rec(4, "catalog.Catalog/1", "c4"))
	writeRecords(t, filepath.Join(dir, "catalog.Catalog_1.log"), rec(6, "catalog.Catalog/1", "c6"))
	writeRecords(t, filepath.Join(dir, "catalog.Catalog_10.log"), rec(3, "catalog.Catalog/10", "x3"))
	writeRecords(t, filepath.Join(dir, "redis.log"), rec(2, "redis", "r2"), rec(5, "redis", "r5"), "garbage\n", rec(7, "redis", "r7"))
	writeRecords(t, filepath.Join(dir, "notes.txt"), "ignored\n")

	all := `catalog.Catalog/1  | c1
redis              | r2
catalog.Catalog/10 | x3
catalog.Catalog/1  | c4
redis              | r5
catalog.Catalog/1  | c6
redis              | r7
`
	for _, tc := range []struct {
		name string
		q    Query
		want string
	}{
		{"all", Query{}, all},
		{"tail", Query{Tail: 3}, "redis              | r5\ncatalog.Catalog/1  | c6\nredis              | r7\n"},
		{"tail more than all", Query{Tail: 100}, all},
		{"since", Query{Since: time.Date(2024, 5, 1, 10, 0, 5, 0, time.UTC)}, "redis             | r5\ncatalog.Catalog/1 | c6\nredis             | r7\n"},
		{"package", Query{Sources: []string{"catalog"}}, "catalog.Catalog/1  | c1\ncatalog.Catalog/10 | x3\ncatalog.Catalog/1  | c4\ncatalog.Catalog/1  | c6\n"},
		{"component", Query{Sources: []string{"catalog.Catalog"}}, "catalog.Catalog/1  | c1\ncatalog.Catalog/10 | x3\ncatalog.Catalog/1  | c4\ncatalog.Catalog/1  | c6\n"},
		{"replica", Query{Sources: []string{"catalog.Catalog/1"}}, "catalog.Catalog/1 | c1\ncatalog.Catalog/1 | c4\ncatalog.Catalog/1 | c6\n"},
		{"two", Query{Sources: []string{"redis", "catalog.Catalog/10"}, Tail: 2}, "redis              | r5\nredis              | r7\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := read(t, dir, tc.q); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
	// A name that selects no source is an error listing the sources, not
	// an empty output (or, with Follow, an endless wait).
	for _, q := range []string{"cat", "nosuch"} {
		var b bytes.Buffer
		err := Read(dir, Query{Sources: []string{"redis", q}, Follow: true}, &b)
		want := `no logs of "` + q + `" (sources: catalog.Catalog/1, catalog.Catalog/10, redis)`
		if !errors.Is(err, ErrNoSource) || err.Error() != want || b.Len() != 0 {
			t.Errorf("source %q: %v, output %q; want %s", q, err, b.String(), want)
		}
	}
}

func TestReadGroups(t *testing.T) {
	dir := t.TempDir()
	writeRecords(t, filepath.Join(dir, "catalog.Catalog_cart.Cart_1.log"), rec(1, "catalog.Catalog+cart.Cart/1", "g1"))
	writeRecords(t, filepath.Join(dir, "catalog.Catalog_cart.Cart_2.log"), rec(2, "catalog.Catalog+cart.Cart/2", "g2"))
	writeRecords(t, filepath.Join(dir, "cart.Cart_1.log"), rec(3, "cart.Cart/1", "c1"))
	writeRecords(t, filepath.Join(dir, "x_cartography.log"), rec(4, "x+cartography", "no"))
	for _, tc := range []struct{ q, want string }{
		{"cart", "catalog.Catalog+cart.Cart/1 | g1\ncatalog.Catalog+cart.Cart/2 | g2\ncart.Cart/1                 | c1\n"},
		{"cart.Cart/1", "catalog.Catalog+cart.Cart/1 | g1\ncart.Cart/1                 | c1\n"},
		{"catalog.Catalog/2", "catalog.Catalog+cart.Cart/2 | g2\n"},
		{"catalog.Catalog+cart.Cart", "catalog.Catalog+cart.Cart/1 | g1\ncatalog.Catalog+cart.Cart/2 | g2\n"},
		{"x", "x+cartography | no\n"},
	} {
		if got := read(t, dir, Query{Sources: []string{tc.q}}); got != tc.want {
			t.Errorf("%s: got\n%s\nwant\n%s", tc.q, got, tc.want)
		}
	}
}

func TestReadTimestamps(t *testing.T) {
	dir := t.TempDir()
	writeRecords(t, filepath.Join(dir, "a.log"), rec(1, "a", "hi"))
	want := time.Date(2024, 5, 1, 10, 0, 1, 0, time.UTC).Local().Format("2006-01-02 15:04:05.000") + " a | hi\n"
	if got := read(t, dir, Query{Timestamps: true}); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestReadMissingDir(t *testing.T) {
	err := Read(filepath.Join(t.TempDir(), "nope"), Query{}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("err = %v", err)
	}
}

// syncBuffer is a bytes.Buffer safe for a reader and a writer goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func waitFor(t *testing.T, b *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !strings.Contains(b.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %q; have\n%s", want, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFollow(t *testing.T) {
	// Small files so that following crosses several rotations.
	s, dir := open(t, Options{MaxFileBytes: 300, MaxFiles: 5})
	a := s.Writer("a/0")
	write(t, a, "before\n")

	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- Read(dir, Query{Follow: true, Context: ctx, Tail: 1}, &out) }()
	waitFor(t, &out, "a/0 | before\n")

	// Lines written after Read started, rotating the file several times
	// between polls, and a source that appears later.
	for i := range 12 {
		write(t, a, fmt.Sprintf("after %02d\n", i))
	}
	b := s.Writer("b")
	write(t, b, "new source\n")
	waitFor(t, &out, "b   | new source\n")
	write(t, a, "later\n")
	waitFor(t, &out, "a/0 | later\n")

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Read did not return after cancel")
	}
	var want strings.Builder
	want.WriteString("a/0 | before\n")
	for i := range 12 {
		fmt.Fprintf(&want, "a/0 | after %02d\n", i)
	}
	want.WriteString("b   | new source\na/0 | later\n")
	if got := out.String(); got != want.String() {
		t.Errorf("got\n%s\nwant\n%s", got, want.String())
	}
}
