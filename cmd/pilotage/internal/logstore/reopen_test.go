package logstore

import (
	"os"
	"testing"
)

// After its directory is removed, Reopen makes the Store write into a new
// one, through the writers it already handed out.
func TestReopenAfterRemoval(t *testing.T) {
	s, dir := open(t, Options{})
	w := s.Writer("catalog.Catalog/0")
	defer w.Close()
	write(t, w, "before\n")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := s.Reopen(); err != nil {
		t.Fatal(err)
	}
	write(t, w, "after\n")
	if got := read(t, dir, Query{}); got != "catalog.Catalog/0 | after\n" {
		t.Errorf("logs after Reopen: %q", got)
	}
	if s.Dir() != dir {
		t.Errorf("Dir() = %q, want %q", s.Dir(), dir)
	}
	s.Close()
	if err := s.Reopen(); err == nil {
		t.Error("Reopen of a closed Store succeeded")
	}
}
