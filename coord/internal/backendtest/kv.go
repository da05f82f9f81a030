package backendtest

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/pilotage/pilotage/coord/internal/backend"
)

// A key's create revision, mod revision and version follow its writes; a
// key deleted and put again starts a new life.
func testPutGetVersions(t *testing.T, b backend.Backend) {
	base := mustRev(t, b)
	r1 := mustPut(t, b, "k", "v1")
	if r1 != base+1 {
		t.Fatalf("first put at revision %d, want %d", r1, base+1)
	}
	want := backend.KeyValue{Key: "k", Value: []byte("v1"), CreateRevision: r1, ModRevision: r1, Version: 1}
	if got := mustGetOne(t, b, "k"); !sameKV(got, want) {
		t.Fatalf("after first put: %+v, want %+v", got, want)
	}
	r2 := mustPut(t, b, "k", "v2")
	want = backend.KeyValue{Key: "k", Value: []byte("v2"), CreateRevision: r1, ModRevision: r2, Version: 2}
	if got := mustGetOne(t, b, "k"); !sameKV(got, want) || r2 != r1+1 {
		t.Fatalf("after second put at %d: %+v, want %+v", r2, got, want)
	}
	r3 := mustTxn(t, b, del("k", false)).Revision
	mustAbsent(t, b, "k")
	r4 := mustPut(t, b, "k", "v3")
	want = backend.KeyValue{Key: "k", Value: []byte("v3"), CreateRevision: r4, ModRevision: r4, Version: 1}
	if got := mustGetOne(t, b, "k"); !sameKV(got, want) || r3 != r2+1 || r4 != r3+1 {
		t.Fatalf("after delete at %d and put at %d: %+v, want %+v", r3, r4, got, want)
	}
	// The returned value is the caller's own.
	got := mustGetOne(t, b, "k")
	got.Value[0] = 'X'
	if again := mustGetOne(t, b, "k"); string(again.Value) != "v3" {
		t.Fatalf("mutating a returned value changed the store: %q", again.Value)
	}
}

// Only a txn that changes something takes a revision, and one txn takes
// exactly one, whatever it writes.
func testRevisionRules(t *testing.T, b backend.Backend) {
	ctx := testCtx(t)
	base := mustRev(t, b)
	if res := mustTxn(t, b, get("a"), getPrefix("")); res.Revision != base {
		t.Fatalf("read-only txn: revision %d, want %d", res.Revision, base)
	}
	if res := mustTxn(t, b, del("a", false), del("nothing/", true)); res.Revision != base || res.Results[0].Deleted != 0 {
		t.Fatalf("delete of nothing: %+v, want revision %d and nothing deleted", res, base)
	}
	res, err := b.Txn(ctx, backend.Txn{
		If:   []backend.Cmp{{Key: "a", Field: backend.ModRevision, Revision: 12345}},
		Then: []backend.Op{put("a", "1")},
		Else: []backend.Op{get("a")},
	})
	if err != nil || res.Succeeded || res.Revision != base {
		t.Fatalf("failed compare with read-only else: %+v, %v; want not succeeded at %d", res, err, base)
	}
	res = mustTxn(t, b, put("a", "1"), put("b", "2"), put("c", "3"), get("a"))
	if res.Revision != base+1 {
		t.Fatalf("txn of three puts: revision %d, want %d", res.Revision, base+1)
	}
	for _, k := range []string{"a", "b", "c"} {
		if kv := mustGetOne(t, b, k); kv.ModRevision != base+1 {
			t.Fatalf("%s: mod revision %d, want %d (one revision per txn)", k, kv.ModRevision, base+1)
		}
	}
	if _, rev := mustGet(t, b, get("a")); rev != base+1 {
		t.Fatalf("get: store revision %d, want %d", rev, base+1)
	}
	// A put of the same value is still a write.
	if r := mustPut(t, b, "a", "1"); r != base+2 {
		t.Fatalf("put of an unchanged value: revision %d, want %d", r, base+2)
	}
}

// Compares on create and mod revision choose the branch; an absent key
// has both at 0; Results follow the branch that ran.
func testTxnCompare(t *testing.T, b backend.Backend) {
	ctx := testCtx(t)
	createIfAbsent := func(key, value string) backend.TxnResult {
		t.Helper()
		res, err := b.Txn(ctx, backend.Txn{
			If:   []backend.Cmp{{Key: key, Field: backend.CreateRevision, Revision: 0}},
			Then: []backend.Op{put(key, value)},
			Else: []backend.Op{get(key)},
		})
		if err != nil {
			t.Fatalf("create %q if absent: %v", key, err)
		}
		return res
	}
	res := createIfAbsent("lock", "me")
	if !res.Succeeded || len(res.Results) != 1 {
		t.Fatalf("create if absent on an absent key: %+v, want succeeded with one result", res)
	}
	created := res.Revision
	res = createIfAbsent("lock", "you")
	if res.Succeeded || len(res.Results) != 1 || len(res.Results[0].KVs) != 1 {
		t.Fatalf("create if absent on a present key: %+v, want the else branch's get", res)
	}
	if kv := res.Results[0].KVs[0]; string(kv.Value) != "me" || kv.CreateRevision != created {
		t.Fatalf("else get: %+v, want value me created at %d", kv, created)
	}

	cas := func(rev int64, value string) bool {
		t.Helper()
		res, err := b.Txn(ctx, backend.Txn{
			If:   []backend.Cmp{{Key: "lock", Field: backend.ModRevision, Revision: rev}},
			Then: []backend.Op{put("lock", value)},
		})
		if err != nil {
			t.Fatalf("cas at %d: %v", rev, err)
		}
		return res.Succeeded
	}
	if cas(created+1, "x") {
		t.Fatal("cas with a wrong mod revision succeeded")
	}
	if !cas(created, "x") {
		t.Fatal("cas with the current mod revision failed")
	}
	if kv := mustGetOne(t, b, "lock"); string(kv.Value) != "x" {
		t.Fatalf("after cas: %q, want x", kv.Value)
	}
	// Every compare must hold.
	res, err := b.Txn(ctx, backend.Txn{
		If: []backend.Cmp{
			{Key: "lock", Field: backend.CreateRevision, Revision: created},
			{Key: "other", Field: backend.CreateRevision, Revision: 1},
		},
		Then: []backend.Op{put("lock", "y")},
	})
	if err != nil || res.Succeeded {
		t.Fatalf("txn with one false compare: %+v, %v; want not succeeded", res, err)
	}
}

// Ops in a txn see the txn's earlier writes, at the txn's revision.
func testTxnReadsOwnWrites(t *testing.T, b backend.Backend) {
	mustPut(t, b, "old", "1")
	res := mustTxn(t, b, put("new", "2"), getPrefix(""), del("old", false), get("old"))
	if len(res.Results) != 4 {
		t.Fatalf("results: %d, want 4", len(res.Results))
	}
	kvs := res.Results[1].KVs
	if len(kvs) != 2 || kvs[0].Key != "new" || kvs[0].ModRevision != res.Revision || kvs[1].Key != "old" {
		t.Fatalf("get after put in one txn: %+v, want new at %d and old", kvs, res.Revision)
	}
	if d := res.Results[2]; d.Deleted != 1 || len(d.KVs) != 1 || string(d.KVs[0].Value) != "1" {
		t.Fatalf("delete result: %+v, want old=1 deleted", d)
	}
	if kvs := res.Results[3].KVs; len(kvs) != 0 {
		t.Fatalf("get after delete in one txn: %+v, want nothing", kvs)
	}
}

// A txn that fails applies nothing of its branch.
func testTxnAllOrNothing(t *testing.T, b backend.Backend) {
	ctx := testCtx(t)
	mustPut(t, b, "keep", "1")
	base := mustRev(t, b)
	_, err := b.Txn(ctx, backend.Txn{Then: []backend.Op{
		put("a", "1"), del("keep", false), putLease("b", "2", backend.LeaseID(0x7eadbeef)),
	}})
	wantErrIs(t, "txn putting with an unknown lease", err, backend.ErrLeaseNotFound)
	mustAbsent(t, b, "a")
	mustAbsent(t, b, "b")
	mustGetOne(t, b, "keep")
	if rev := mustRev(t, b); rev != base {
		t.Fatalf("failed txn moved the revision from %d to %d", base, rev)
	}
	// Only the branch that runs needs its leases.
	res, err := b.Txn(ctx, backend.Txn{
		If:   []backend.Cmp{{Key: "keep", Field: backend.CreateRevision, Revision: 0}},
		Then: []backend.Op{putLease("b", "2", backend.LeaseID(0x7eadbeef))},
		Else: []backend.Op{put("a", "1")},
	})
	if err != nil || res.Succeeded {
		t.Fatalf("txn whose untaken branch has an unknown lease: %+v, %v", res, err)
	}
	mustGetOne(t, b, "a")
}

// A branch that writes one key twice is rejected, as etcd does.
func testTxnDuplicateKey(t *testing.T, b backend.Backend) {
	ctx := testCtx(t)
	base := mustRev(t, b)
	for _, ops := range [][]backend.Op{
		{put("a", "1"), put("a", "2")},
		{put("a/x", "1"), del("a/", true)},
	} {
		if _, err := b.Txn(ctx, backend.Txn{Then: ops}); err == nil {
			t.Fatalf("txn %v: no error, want duplicate key", ops)
		}
	}
	mustAbsent(t, b, "a")
	mustAbsent(t, b, "a/x")
	if rev := mustRev(t, b); rev != base {
		t.Fatalf("rejected txns moved the revision from %d to %d", base, rev)
	}
}

// Concurrent compare-and-swap increments never lose an update.
func testTxnConcurrentCAS(t *testing.T, b backend.Backend) {
	const workers, each = 4, 50
	ctx := testCtx(t)
	mustPut(t, b, "n", "0")
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for done := 0; done < each; {
				kvs, _, err := b.Get(ctx, get("n"))
				if err != nil {
					errs <- err
					return
				}
				n, _ := strconv.Atoi(string(kvs[0].Value))
				res, err := b.Txn(ctx, backend.Txn{
					If:   []backend.Cmp{{Key: "n", Field: backend.ModRevision, Revision: kvs[0].ModRevision}},
					Then: []backend.Op{put("n", strconv.Itoa(n+1))},
				})
				if err != nil {
					errs <- err
					return
				}
				if res.Succeeded {
					done++
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	kv := mustGetOne(t, b, "n")
	if string(kv.Value) != strconv.Itoa(workers*each) || kv.Version != workers*each+1 {
		t.Fatalf("counter %s at version %d, want %d at %d", kv.Value, kv.Version, workers*each, workers*each+1)
	}
}

// A reader never sees half of a txn: two keys written together always
// read equal.
func testTxnAtomicToReaders(t *testing.T, b backend.Backend) {
	const writes = 200
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	mustTxn(t, b, put("pair/a", "0"), put("pair/b", "0"))
	errs := make(chan error, 2)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer cancel()
		for i := 1; i <= writes; i++ {
			v := strconv.Itoa(i)
			if _, err := b.Txn(ctx, backend.Txn{Then: []backend.Op{put("pair/a", v), put("pair/b", v)}}); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Go(func() {
		for ctx.Err() == nil {
			kvs, rev, err := b.Get(ctx, getPrefix("pair/"))
			if err != nil {
				if ctx.Err() == nil {
					errs <- err
				}
				return
			}
			if len(kvs) != 2 || string(kvs[0].Value) != string(kvs[1].Value) || kvs[0].ModRevision != kvs[1].ModRevision {
				errs <- fmt.Errorf("read at %d saw a half-applied txn: %+v", rev, kvs)
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// Get by prefix returns keys in key order, or by create revision, up to
// Limit; a prefix does not match its siblings.
func testGetPrefixSortLimit(t *testing.T, b backend.Backend) {
	for _, k := range []string{"p/c", "p/a", "pz", "p/b", "p", "o"} {
		mustPut(t, b, k, k)
	}
	keys := func(kvs []backend.KeyValue) string {
		s := ""
		for _, kv := range kvs {
			s += kv.Key + " "
		}
		return s
	}
	for _, tc := range []struct {
		op   backend.Op
		want string
	}{
		{getPrefix("p/"), "p/a p/b p/c "},
		{getPrefix("p"), "p p/a p/b p/c pz "},
		{getPrefix(""), "o p p/a p/b p/c pz "},
		{get("p"), "p "},
		{get("p/"), ""},
		{backend.Op{Kind: backend.OpGet, Key: "p/", Prefix: true, Limit: 2}, "p/a p/b "},
		{backend.Op{Kind: backend.OpGet, Key: "p/", Prefix: true, SortByCreate: true}, "p/c p/a p/b "},
		{backend.Op{Kind: backend.OpGet, Key: "p/", Prefix: true, SortByCreate: true, Limit: 1}, "p/c "},
		{backend.Op{Kind: backend.OpGet, Key: "", Prefix: true, SortByCreate: true, Limit: 3}, "p/c p/a pz "},
	} {
		kvs, _ := mustGet(t, b, tc.op)
		if got := keys(kvs); got != tc.want {
			t.Errorf("get %+v: %q, want %q", tc.op, got, tc.want)
		}
	}
}

// Delete by prefix removes every key under it at one revision and returns
// them as they were.
func testDeletePrefix(t *testing.T, b backend.Backend) {
	mustPut(t, b, "d/1", "one")
	mustPut(t, b, "d/2", "two")
	mustPut(t, b, "dx", "sibling")
	before, _ := mustGet(t, b, getPrefix("d/"))
	w := b.Watch(testCtx(t), "d/", true, 0)
	res := mustTxn(t, b, del("d/", true))
	d := res.Results[0]
	if d.Deleted != 2 || len(d.KVs) != 2 || !sameKV(d.KVs[0], before[0]) || !sameKV(d.KVs[1], before[1]) {
		t.Fatalf("delete d/ by prefix: %+v, want %+v", d, before)
	}
	mustAbsent(t, b, "d/1")
	mustAbsent(t, b, "d/2")
	mustGetOne(t, b, "dx")
	evs := recvEvents(t, w, 2)
	checkEvent(t, evs[0], backend.EventDelete, backend.KeyValue{Key: "d/1", ModRevision: res.Revision})
	checkEvent(t, evs[1], backend.EventDelete, backend.KeyValue{Key: "d/2", ModRevision: res.Revision})
}

// A put or a single-key read or delete needs a key.
func testEmptyKey(t *testing.T, b backend.Backend) {
	ctx := testCtx(t)
	for _, op := range []backend.Op{put("", "v"), get(""), del("", false)} {
		if _, err := b.Txn(ctx, backend.Txn{Then: []backend.Op{op}}); err == nil {
			t.Errorf("txn with %+v: no error", op)
		}
	}
	if rev := mustRev(t, b); mustPut(t, b, "k", "v") != rev+1 {
		t.Fatal("rejected txns moved the revision")
	}
}

// A call with a done context fails with the context's error and changes
// nothing.
func testContextDone(t *testing.T, b backend.Backend) {
	id, err := b.Grant(testCtx(t), timeout)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = b.Txn(ctx, backend.Txn{Then: []backend.Op{put("k", "v")}})
	wantErrIs(t, "txn", err, context.Canceled)
	_, _, err = b.Get(ctx, get("k"))
	wantErrIs(t, "get", err, context.Canceled)
	_, err = b.Grant(ctx, timeout)
	wantErrIs(t, "grant", err, context.Canceled)
	_, err = b.KeepAliveOnce(ctx, id)
	wantErrIs(t, "keep alive", err, context.Canceled)
	wantErrIs(t, "revoke", b.Revoke(ctx, id), context.Canceled)
	mustAbsent(t, b, "k")
	if _, err := b.KeepAliveOnce(testCtx(t), id); err != nil {
		t.Fatalf("lease after a cancelled revoke: %v", err)
	}
}
