package coordcheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anishathalye/porcupine"
)

// A script builds a history by hand: each op is called at call and
// returns at ret (0: never).
type script []Record

func (s *script) op(client string, call, ret int64, in Input, out Output) {
	seq := len(*s)
	*s = append(*s, Record{Client: client, Seq: seq, Time: call, In: &in})
	if ret != 0 {
		*s = append(*s, Record{Client: client, Seq: seq, Time: ret, Out: &out})
	}
}

func check(t *testing.T, c Checker, s script) porcupine.CheckResult {
	t.Helper()
	ops, _ := Operations(s, c)
	return porcupine.CheckOperationsTimeout(c.Model(), ops, 0)
}

var kvKeys = []string{"a", "b"}

// TestKVModelRejects feeds the KV model histories no linearizable store
// produces.
func TestKVModelRejects(t *testing.T) {
	for _, tc := range []struct {
		name       string
		contiguous bool
		history    func(s *script)
	}{
		{"get misses a completed put", false, func(s *script) {
			s.op("c1", 1, 2, Input{Op: OpPut, Key: "a", Value: "x"}, Output{OK: true, Rev: 5})
			s.op("c2", 3, 4, Input{Op: OpGet, Key: "a"}, Output{})
		}},
		{"get returns a value never written", false, func(s *script) {
			s.op("c1", 1, 2, Input{Op: OpPut, Key: "a", Value: "x"}, Output{OK: true, Rev: 5})
			s.op("c2", 3, 4, Input{Op: OpGet, Key: "a"}, Output{OK: true, Value: "y", Rev: 5})
		}},
		{"get returns the wrong revision", false, func(s *script) {
			s.op("c1", 1, 2, Input{Op: OpPut, Key: "a", Value: "x"}, Output{OK: true, Rev: 5})
			s.op("c2", 3, 4, Input{Op: OpGet, Key: "a"}, Output{OK: true, Value: "x", Rev: 6})
		}},
		{"revisions of one key go back", false, func(s *script) {
			s.op("c1", 1, 2, Input{Op: OpPut, Key: "a", Value: "x"}, Output{OK: true, Rev: 5})
			s.op("c2", 3, 4, Input{Op: OpPut, Key: "a", Value: "y"}, Output{OK: true, Rev: 4})
		}},
		{"cas succeeds on a stale revision", false, func(s *script) {
			s.op("c1", 1, 2, Input{Op: OpPut, Key: "a", Value: "x"}, Output{OK: true, Rev: 5})
			s.op("c1", 3, 4, Input{Op: OpPut, Key: "a", Value: "y"}, Output{OK: true, Rev: 6})
			s.op("c2", 5, 6, Input{Op: OpCAS, Key: "a", Value: "z", Rev: 5}, Output{OK: true, Rev: 7})
		}},
		{"cas conflicts on the current revision", false, func(s *script) {
			s.op("c1", 1, 2, Input{Op: OpPut, Key: "a", Value: "x"}, Output{OK: true, Rev: 5})
			s.op("c2", 3, 4, Input{Op: OpCAS, Key: "a", Value: "z", Rev: 5}, Output{Refused: "conflict", Rev: 5})
		}},
		{"get sees a deleted key", false, func(s *script) {
			s.op("c1", 1, 2, Input{Op: OpPut, Key: "a", Value: "x"}, Output{OK: true, Rev: 5})
			s.op("c1", 3, 4, Input{Op: OpDelete, Key: "a"}, Output{OK: true, Rev: 6})
			s.op("c2", 5, 6, Input{Op: OpGet, Key: "a"}, Output{OK: true, Value: "x", Rev: 5})
		}},
		{"revision skips with nothing else writing", true, func(s *script) {
			s.op("c1", 1, 2, Input{Op: OpPut, Key: "a", Value: "x"}, Output{OK: true, Rev: 1})
			s.op("c1", 3, 4, Input{Op: OpPut, Key: "b", Value: "y"}, Output{OK: true, Rev: 3})
		}},
		{"delete of an absent key moves the revision", true, func(s *script) {
			s.op("c1", 1, 2, Input{Op: OpPut, Key: "a", Value: "x"}, Output{OK: true, Rev: 1})
			s.op("c1", 3, 4, Input{Op: OpDelete, Key: "b"}, Output{OK: true, Rev: 2})
		}},
		{"a killed client's put seen, then unseen", false, func(s *script) {
			s.op("c1", 1, 0, Input{Op: OpPut, Key: "a", Value: "x"}, Output{})
			s.op("c2", 3, 4, Input{Op: OpGet, Key: "a"}, Output{OK: true, Value: "x", Rev: 5})
			s.op("c2", 5, 6, Input{Op: OpGet, Key: "a"}, Output{})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s script
			tc.history(&s)
			for _, perKey := range []bool{false, true} {
				if tc.contiguous && perKey {
					continue
				}
				m := KVModel{Keys: kvKeys, Contiguous: tc.contiguous, PerKey: perKey}
				if res := check(t, m, s); res != porcupine.Illegal {
					t.Errorf("per key %v: porcupine says %s, want %s", perKey, res, porcupine.Illegal)
				}
			}
		})
	}
}

// TestKVModelAccepts feeds the KV model linearizable histories with
// concurrent operations and killed clients, so that the rejections above
// are not of every history.
func TestKVModelAccepts(t *testing.T) {
	var s script
	// A put concurrent with two gets: one sees it, the other not yet.
	s.op("c1", 1, 10, Input{Op: OpPut, Key: "a", Value: "x"}, Output{OK: true, Rev: 1})
	s.op("c2", 2, 4, Input{Op: OpGet, Key: "a"}, Output{})
	s.op("c3", 3, 5, Input{Op: OpGet, Key: "a"}, Output{OK: true, Value: "x", Rev: 1})
	// A killed client's put, seen only through its revision.
	s.op("c4", 11, 0, Input{Op: OpPut, Key: "b", Value: "lost"}, Output{})
	s.op("c2", 12, 13, Input{Op: OpCAS, Key: "b", Value: "y", Rev: 0}, Output{Refused: "conflict", Rev: 2})
	s.op("c2", 14, 15, Input{Op: OpCAS, Key: "b", Value: "y", Rev: 2}, Output{OK: true, Rev: 3})
	// A killed client's delete that never happened.
	s.op("c5", 16, 0, Input{Op: OpDelete, Key: "a"}, Output{})
	s.op("c3", 17, 18, Input{Op: OpGet, Key: "a"}, Output{OK: true, Value: "x", Rev: 1})
	s.op("c3", 19, 20, Input{Op: OpDelete, Key: "a"}, Output{OK: true, Rev: 4})
	s.op("c3", 21, 22, Input{Op: OpDelete, Key: "a"}, Output{OK: true, Rev: 4})
	for _, m := range []KVModel{{Keys: kvKeys, Contiguous: true}, {Keys: kvKeys}, {Keys: kvKeys, PerKey: true}} {
		if res := check(t, m, s); res != porcupine.Ok {
			t.Errorf("%+v: porcupine says %s, want %s", m, res, porcupine.Ok)
		}
	}
}

// TestLockModelRejects feeds the lock model histories of broken locks.
func TestLockModelRejects(t *testing.T) {
	for _, tc := range []struct {
		name    string
		history func(s *script)
	}{
		{"two grants of one token", func(s *script) {
			s.op("c1", 1, 2, Input{Op: OpLock, Key: "l"}, Output{OK: true, Token: 7})
			s.op("c2", 3, 4, Input{Op: OpLock, Key: "l"}, Output{OK: true, Token: 7})
		}},
		{"tokens go back", func(s *script) {
			s.op("c1", 1, 2, Input{Op: OpLock, Key: "l"}, Output{OK: true, Token: 7})
			s.op("c2", 3, 4, Input{Op: OpTryLock, Key: "l"}, Output{OK: true, Token: 5})
		}},
		{"stale fenced write accepted", func(s *script) {
			s.op("c1", 1, 2, Input{Op: OpLock, Key: "l"}, Output{OK: true, Token: 7})
			s.op("c2", 3, 4, Input{Op: OpLock, Key: "l"}, Output{OK: true, Token: 9})
			s.op("c1", 5, 6, Input{Op: OpWrite, Key: "l", Value: "v", Token: 7}, Output{OK: true, Rev: 10})
		}},
		{"write after unlock accepted", func(s *script) {
			s.op("c1", 1, 2, Input{Op: OpLock, Key: "l"}, Output{OK: true, Token: 7})
			s.op("c1", 3, 4, Input{Op: OpUnlock, Key: "l", Token: 7}, Output{OK: true})
			s.op("c1", 5, 6, Input{Op: OpWrite, Key: "l", Value: "v", Token: 7}, Output{OK: true, Rev: 10})
		}},
		{"write after force unlock accepted", func(s *script) {
			s.op("c1", 1, 2, Input{Op: OpLock, Key: "l"}, Output{OK: true, Token: 7})
			s.op("op", 3, 4, Input{Op: OpForceUnlock, Key: "l"}, Output{OK: true})
			s.op("c1", 5, 6, Input{Op: OpWrite, Key: "l", Value: "v", Token: 7}, Output{OK: true, Rev: 10})
		}},
		{"read misses a completed write", func(s *script) {
			s.op("c1", 1, 2, Input{Op: OpLock, Key: "l"}, Output{OK: true, Token: 7})
			s.op("c1", 3, 4, Input{Op: OpWrite, Key: "l", Value: "v", Token: 7}, Output{OK: true, Rev: 8})
			s.op("c2", 5, 6, Input{Op: OpRead, Key: "l"}, Output{})
		}},
		{"old holder unlocks after a new grant", func(s *script) {
			s.op("c1", 1, 2, Input{Op: OpLock, Key: "l"}, Output{OK: true, Token: 7})
			s.op("c2", 3, 4, Input{Op: OpLock, Key: "l"}, Output{OK: true, Token: 9})
			s.op("c1", 5, 6, Input{Op: OpUnlock, Key: "l", Token: 7}, Output{OK: true})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s script
			tc.history(&s)
			if res := check(t, LockModel{}, s); res != porcupine.Illegal {
				t.Errorf("porcupine says %s, want %s", res, porcupine.Illegal)
			}
		})
	}
}

// TestLockModelAccepts feeds the lock model a history of a lock lost
// unseen, a fenced write refused, and a killed holder's write.
func TestLockModelAccepts(t *testing.T) {
	var s script
	s.op("c1", 1, 2, Input{Op: OpLock, Key: "l"}, Output{OK: true, Token: 7})
	s.op("c1", 3, 4, Input{Op: OpWrite, Key: "l", Value: "a", Token: 7}, Output{OK: true, Rev: 8})
	// c1 paused: its lease expires, c2 is granted; c1's write is fenced.
	s.op("c2", 5, 9, Input{Op: OpLock, Key: "l"}, Output{OK: true, Token: 9})
	s.op("c1", 6, 10, Input{Op: OpWrite, Key: "l", Value: "b", Token: 7}, Output{Refused: "fenced"})
	s.op("c3", 7, 8, Input{Op: OpTryLock, Key: "l"}, Output{Refused: "locked"})
	s.op("c1", 11, 12, Input{Op: OpUnlock, Key: "l", Token: 7}, Output{Refused: "notheld"})
	// c2 is killed writing; a read sees its write.
	s.op("c2", 13, 0, Input{Op: OpWrite, Key: "l", Value: "c", Token: 9}, Output{})
	s.op("c3", 14, 15, Input{Op: OpRead, Key: "l"}, Output{OK: true, Value: "c", Rev: 12})
	s.op("c3", 16, 17, Input{Op: OpLock, Key: "l"}, Output{OK: true, Token: 13})
	s.op("c3", 18, 19, Input{Op: OpRead, Key: "l"}, Output{OK: true, Value: "c", Rev: 12})
	if res := check(t, LockModel{}, s); res != porcupine.Ok {
		t.Errorf("porcupine says %s, want %s", res, porcupine.Ok)
	}
}

// TestCheckRevisions shows CheckRevisions rejecting writes to different
// keys whose revisions contradict real time, or repeat.
func TestCheckRevisions(t *testing.T) {
	kv := KVModel{Keys: kvKeys, PerKey: true}
	var ok, back, twice script
	ok.op("c1", 1, 5, Input{Op: OpPut, Key: "a", Value: "x"}, Output{OK: true, Rev: 3})
	ok.op("c2", 2, 6, Input{Op: OpPut, Key: "b", Value: "y"}, Output{OK: true, Rev: 2})
	ok.op("c3", 7, 8, Input{Op: OpLock, Key: "l"}, Output{OK: true, Token: 4})
	back.op("c1", 1, 2, Input{Op: OpPut, Key: "a", Value: "x"}, Output{OK: true, Rev: 3})
	back.op("c2", 3, 4, Input{Op: OpPut, Key: "b", Value: "y"}, Output{OK: true, Rev: 2})
	twice.op("c1", 1, 2, Input{Op: OpPut, Key: "a", Value: "x"}, Output{OK: true, Rev: 3})
	twice.op("c2", 1, 2, Input{Op: OpCAS, Key: "b", Value: "y"}, Output{OK: true, Rev: 3})
	for _, tc := range []struct {
		name string
		s    script
		ok   bool
	}{{"concurrent", ok, true}, {"back in time", back, false}, {"repeated", twice, false}} {
		ops, _ := Operations(tc.s, kv)
		if err := CheckRevisions(ops); (err == nil) != tc.ok {
			t.Errorf("%s: CheckRevisions: %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

// TestSaveFailure shows that a rejected history is saved, with porcupine's
// visualization, where the failure message says.
func TestSaveFailure(t *testing.T) {
	t.Setenv("PILOTAGE_TEST_ARTIFACTS", t.TempDir())
	var s script
	s.op("c1", 1, 2, Input{Op: OpLock, Key: "l"}, Output{OK: true, Token: 7})
	s.op("c2", 3, 4, Input{Op: OpLock, Key: "l"}, Output{OK: true, Token: 7})
	ops, _ := Operations(s, LockModel{})
	dir := saveFailure(t, "locks", LockModel{}, s, ops)
	for _, f := range []string{"history.json", "history.html"} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), "lock") {
			t.Errorf("%s does not name the operations", f)
		}
	}
}
