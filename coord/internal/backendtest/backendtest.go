// Package backendtest is the conformance suite of the backend.Backend
// contract: every implementation (etcd, in-memory) runs it, so that the
// coord package behaves the same on each. The reference semantics are
// etcd v3's.
package backendtest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/pilotage/pilotage/coord/internal/backend"
)

// A Compacter is a backend whose history can be compacted on demand, as
// etcd's Compact does: a watch from a revision below rev then ends with
// backend.ErrCompacted. The suite tests compaction only on backends that
// implement it.
type Compacter interface {
	Compact(ctx context.Context, rev int64) error
}

// timeout bounds every wait of the suite.
const timeout = 10 * time.Second

// Run runs the suite. newBackend must return an empty backend that nothing
// else writes to during the test (the suite checks revisions exactly), and
// close it at the test's cleanup; Close may then be called a second time.
func Run(t *testing.T, newBackend func(t *testing.T) backend.Backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b backend.Backend)
	}{
		{"PutGetVersions", testPutGetVersions},
		{"RevisionRules", testRevisionRules},
		{"TxnCompare", testTxnCompare},
		{"TxnReadsOwnWrites", testTxnReadsOwnWrites},
		{"TxnAllOrNothing", testTxnAllOrNothing},
		{"TxnDuplicateKey", testTxnDuplicateKey},
		{"TxnConcurrentCAS", testTxnConcurrentCAS},
		{"TxnAtomicToReaders", testTxnAtomicToReaders},
		{"GetPrefixSortLimit", testGetPrefixSortLimit},
		{"DeletePrefix", testDeletePrefix},
		{"EmptyKey", testEmptyKey},
		{"ContextDone", testContextDone},
		{"LeaseGrantRevoke", testLeaseGrantRevoke},
		{"LeaseRebind", testLeaseRebind},
		{"LeaseExpirySeenByWatcher", testLeaseExpirySeenByWatcher},
		{"LeaseKeepAlive", testLeaseKeepAlive},
		{"WatchReplayThenLive", testWatchReplayThenLive},
		{"WatchFromNext", testWatchFromNext},
		{"WatchFutureRevision", testWatchFutureRevision},
		{"WatchKeyNotPrefix", testWatchKeyNotPrefix},
		{"WatchTxnInOneResponse", testWatchTxnInOneResponse},
		{"WatchNoGapConcurrentWriters", testWatchNoGapConcurrentWriters},
		{"WatchSlowReaderDoesNotBlockWriters", testWatchSlowReader},
		{"WatchContextEnds", testWatchContextEnds},
		{"WatchCompacted", testWatchCompacted},
		{"CloseEndsWatches", testCloseEndsWatches},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newBackend(t))
		})
	}
}

// testCtx is a context bounded by timeout, cancelled at the test's end.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	t.Cleanup(cancel)
	return ctx
}

func put(key, value string) backend.Op {
	return backend.Op{Kind: backend.OpPut, Key: key, Value: []byte(value)}
}

func putLease(key, value string, id backend.LeaseID) backend.Op {
	return backend.Op{Kind: backend.OpPut, Key: key, Value: []byte(value), Lease: id}
}

func get(key string) backend.Op { return backend.Op{Kind: backend.OpGet, Key: key} }

func getPrefix(key string) backend.Op {
	return backend.Op{Kind: backend.OpGet, Key: key, Prefix: true}
}

func del(key string, prefix bool) backend.Op {
	return backend.Op{Kind: backend.OpDelete, Key: key, Prefix: prefix}
}

// mustTxn applies ops unconditionally and returns the result.
func mustTxn(t *testing.T, b backend.Backend, ops ...backend.Op) backend.TxnResult {
	t.Helper()
	res, err := b.Txn(testCtx(t), backend.Txn{Then: ops})
	if err != nil {
		t.Fatalf("txn %v: %v", ops, err)
	}
	return res
}

// mustPut puts key and returns the revision of the put.
func mustPut(t *testing.T, b backend.Backend, key, value string) int64 {
	t.Helper()
	return mustTxn(t, b, put(key, value)).Revision
}

func mustGet(t *testing.T, b backend.Backend, op backend.Op) ([]backend.KeyValue, int64) {
	t.Helper()
	kvs, rev, err := b.Get(testCtx(t), op)
	if err != nil {
		t.Fatalf("get %q: %v", op.Key, err)
	}
	return kvs, rev
}

// mustGetOne returns key's KeyValue; it fails the test if key is absent.
func mustGetOne(t *testing.T, b backend.Backend, key string) backend.KeyValue {
	t.Helper()
	kvs, _ := mustGet(t, b, get(key))
	if len(kvs) != 1 {
		t.Fatalf("get %q: %d keys, want 1", key, len(kvs))
	}
	return kvs[0]
}

func mustAbsent(t *testing.T, b backend.Backend, key string) {
	t.Helper()
	if kvs, _ := mustGet(t, b, get(key)); len(kvs) != 0 {
		t.Fatalf("get %q: found %+v, want absent", key, kvs[0])
	}
}

func mustRev(t *testing.T, b backend.Backend) int64 {
	t.Helper()
	_, rev := mustGet(t, b, get("\x00rev-probe"))
	return rev
}

// recv returns the next response of ch, failing the test if none comes in
// time or ch is closed.
func recv(t *testing.T, ch <-chan backend.WatchResponse) backend.WatchResponse {
	t.Helper()
	select {
	case resp, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed")
		}
		return resp
	case <-time.After(timeout):
		t.Fatal("no watch response in time")
	}
	panic("unreachable")
}

// recvEvents receives until it has n events; it fails on an error
// response, on more events than n, or if they do not come in time.
func recvEvents(t *testing.T, ch <-chan backend.WatchResponse, n int) []backend.Event {
	t.Helper()
	var evs []backend.Event
	for len(evs) < n {
		resp := recv(t, ch)
		if resp.Err != nil {
			t.Fatalf("watch ended after %d of %d events: %v", len(evs), n, resp.Err)
		}
		evs = append(evs, resp.Events...)
	}
	if len(evs) > n {
		t.Fatalf("watch: %d events, want %d: %s", len(evs), n, fmtEvents(evs))
	}
	return evs
}

// waitClosed drains ch until it is closed and returns the error of its
// last response, if any.
func waitClosed(t *testing.T, ch <-chan backend.WatchResponse) error {
	t.Helper()
	deadline := time.After(timeout)
	var last error
	for {
		select {
		case resp, ok := <-ch:
			if !ok {
				return last
			}
			if resp.Err != nil {
				last = resp.Err
			}
		case <-deadline:
			t.Fatal("watch channel not closed in time")
		}
	}
}

// checkEvent compares an event with what it should be. For a put, want
// is the key's KeyValue after it; for a delete, Key and ModRevision.
func checkEvent(t *testing.T, got backend.Event, typ backend.EventType, want backend.KeyValue) {
	t.Helper()
	if got.Type != typ {
		t.Fatalf("event %s: type %d, want %d", fmtEvent(got), got.Type, typ)
	}
	if typ == backend.EventDelete {
		if got.KV.Key != want.Key || got.KV.ModRevision != want.ModRevision || len(got.KV.Value) != 0 {
			t.Fatalf("delete event %s, want key %q at %d with no value", fmtEvent(got), want.Key, want.ModRevision)
		}
		return
	}
	if !sameKV(got.KV, want) {
		t.Fatalf("put event %s, want %+v", fmtEvent(got), want)
	}
}

func sameKV(a, b backend.KeyValue) bool {
	return a.Key == b.Key && string(a.Value) == string(b.Value) &&
		a.CreateRevision == b.CreateRevision && a.ModRevision == b.ModRevision &&
		a.Version == b.Version && a.Lease == b.Lease
}

func fmtEvent(e backend.Event) string {
	kind := "put"
	if e.Type == backend.EventDelete {
		kind = "delete"
	}
	return fmt.Sprintf("%s %q=%q@%d(c%d v%d)", kind, e.KV.Key, e.KV.Value, e.KV.ModRevision, e.KV.CreateRevision, e.KV.Version)
}

func fmtEvents(evs []backend.Event) string {
	s := ""
	for _, e := range evs {
		s += fmtEvent(e) + " "
	}
	return s
}

func wantErrIs(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error %v, want %v", what, err, target)
	}
}
