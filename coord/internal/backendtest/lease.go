package backendtest

import (
	"testing"
	"time"

	"github.com/pilotage/pilotage/coord/internal/backend"
)

// shortTTL is the ttl the suite asks for when it waits for an expiry. A
// backend may grant more (etcd rounds up to whole seconds and a minimum);
// the suite reads the ttl granted from KeepAliveOnce and waits on that.
const shortTTL = 50 * time.Millisecond

// renewedTTL is the ttl of the lease the suite renews: long enough that
// a renewal every ttl/4 is in time on a loaded machine.
const renewedTTL = 250 * time.Millisecond

// grantLease grants a lease of at least asked and returns it with its
// real ttl.
func grantLease(t *testing.T, b backend.Backend, asked time.Duration) (backend.LeaseID, time.Duration) {
	t.Helper()
	ctx := testCtx(t)
	id, err := b.Grant(ctx, asked)
	if err != nil {
		t.Fatalf("grant: %v", err)
	}
	ttl, err := b.KeepAliveOnce(ctx, id)
	if err != nil {
		t.Fatalf("keep alive a fresh lease: %v", err)
	}
	if ttl < asked {
		t.Fatalf("lease granted for %v, asked %v", ttl, asked)
	}
	return id, ttl
}

// Revoking a lease deletes its keys at one revision; the lease is then
// gone for every call.
func testLeaseGrantRevoke(t *testing.T, b backend.Backend) {
	ctx := testCtx(t)
	a, err := b.Grant(ctx, timeout)
	if err != nil {
		t.Fatal(err)
	}
	c, err := b.Grant(ctx, timeout)
	if err != nil {
		t.Fatal(err)
	}
	if a == 0 || c == 0 || a == c {
		t.Fatalf("grant: ids %x and %x, want two distinct non-zero ids", int64(a), int64(c))
	}
	ttl, err := b.KeepAliveOnce(ctx, a)
	if err != nil || ttl < timeout {
		t.Fatalf("keep alive: ttl %v, %v; want at least %v", ttl, err, timeout)
	}
	mustTxn(t, b, putLease("l/1", "x", a), putLease("l/2", "y", a), putLease("l/3", "z", c), put("l/4", "none"))
	if kv := mustGetOne(t, b, "l/1"); kv.Lease != a {
		t.Fatalf("key put with lease %x has lease %x", int64(a), int64(kv.Lease))
	}
	w := b.Watch(ctx, "l/", true, 0)
	if err := b.Revoke(ctx, a); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	evs := recvEvents(t, w, 2)
	rev := evs[0].KV.ModRevision
	checkEvent(t, evs[0], backend.EventDelete, backend.KeyValue{Key: "l/1", ModRevision: rev})
	checkEvent(t, evs[1], backend.EventDelete, backend.KeyValue{Key: "l/2", ModRevision: rev})
	if now := mustRev(t, b); now != rev {
		t.Fatalf("revoke took revisions up to %d, deletes at %d: want one", now, rev)
	}
	mustAbsent(t, b, "l/1")
	mustGetOne(t, b, "l/3")
	mustGetOne(t, b, "l/4")

	_, err = b.KeepAliveOnce(ctx, a)
	wantErrIs(t, "keep alive a revoked lease", err, backend.ErrLeaseNotFound)
	wantErrIs(t, "revoke a revoked lease", b.Revoke(ctx, a), backend.ErrLeaseNotFound)
	_, err = b.Txn(ctx, backend.Txn{Then: []backend.Op{putLease("l/5", "x", a)}})
	wantErrIs(t, "put with a revoked lease", err, backend.ErrLeaseNotFound)
	unknown := backend.LeaseID(0x5eed)
	_, err = b.KeepAliveOnce(ctx, unknown)
	wantErrIs(t, "keep alive an unknown lease", err, backend.ErrLeaseNotFound)
	wantErrIs(t, "revoke an unknown lease", b.Revoke(ctx, unknown), backend.ErrLeaseNotFound)

	// A lease with no keys ends without a revision.
	empty, err := b.Grant(ctx, timeout)
	if err != nil {
		t.Fatal(err)
	}
	before := mustRev(t, b)
	if err := b.Revoke(ctx, empty); err != nil {
		t.Fatal(err)
	}
	if after := mustRev(t, b); after != before {
		t.Fatalf("revoking a lease with no keys moved the revision from %d to %d", before, after)
	}
}

// A put moves a key to the lease it names (none included), so only the
// last lease decides when the key goes.
func testLeaseRebind(t *testing.T, b backend.Backend) {
	ctx := testCtx(t)
	a, err := b.Grant(ctx, timeout)
	if err != nil {
		t.Fatal(err)
	}
	c, err := b.Grant(ctx, timeout)
	if err != nil {
		t.Fatal(err)
	}
	mustTxn(t, b, putLease("moved", "1", a), putLease("freed", "1", a))
	mustTxn(t, b, putLease("moved", "2", c), put("freed", "2"))
	if err := b.Revoke(ctx, a); err != nil {
		t.Fatal(err)
	}
	if kv := mustGetOne(t, b, "moved"); kv.Lease != c {
		t.Fatalf("moved: lease %x, want %x", int64(kv.Lease), int64(c))
	}
	if kv := mustGetOne(t, b, "freed"); kv.Lease != 0 {
		t.Fatalf("freed: lease %x, want none", int64(kv.Lease))
	}
	if err := b.Revoke(ctx, c); err != nil {
		t.Fatal(err)
	}
	mustAbsent(t, b, "moved")
	mustGetOne(t, b, "freed")
}

// A lease nobody renews expires on time, by itself: a watcher sees its
// keys deleted at one revision without any other call on the store.
func testLeaseExpirySeenByWatcher(t *testing.T, b backend.Backend) {
	ctx := testCtx(t)
	id, ttl := grantLease(t, b, shortTTL)
	granted := time.Now()
	res := mustTxn(t, b, putLease("e/1", "x", id), putLease("e/2", "y", id))
	w := b.Watch(ctx, "e/", true, res.Revision+1)
	evs := recvEvents(t, w, 2)
	waited := time.Since(granted)
	rev := evs[0].KV.ModRevision
	checkEvent(t, evs[0], backend.EventDelete, backend.KeyValue{Key: "e/1", ModRevision: rev})
	checkEvent(t, evs[1], backend.EventDelete, backend.KeyValue{Key: "e/2", ModRevision: rev})
	if rev != res.Revision+1 {
		t.Fatalf("expiry deleted at %d, want %d", rev, res.Revision+1)
	}
	if waited < ttl*9/10 {
		t.Fatalf("lease of %v expired after %v", ttl, waited)
	}
	_, err := b.KeepAliveOnce(ctx, id)
	wantErrIs(t, "keep alive an expired lease", err, backend.ErrLeaseNotFound)
	_, err = b.Txn(ctx, backend.Txn{Then: []backend.Op{putLease("e/3", "x", id)}})
	wantErrIs(t, "put with an expired lease", err, backend.ErrLeaseNotFound)
	wantErrIs(t, "revoke an expired lease", b.Revoke(ctx, id), backend.ErrLeaseNotFound)
}

// KeepAliveOnce moves the expiry to now plus the ttl: a lease renewed in
// time outlives its first ttl, and expires a ttl after its last renewal.
func testLeaseKeepAlive(t *testing.T, b backend.Backend) {
	ctx := testCtx(t)
	id, ttl := grantLease(t, b, renewedTTL)
	mustTxn(t, b, putLease("ka", "x", id))
	start := time.Now()
	last := start
	for time.Since(start) < 2*ttl {
		time.Sleep(ttl / 4)
		now := time.Now()
		if _, err := b.KeepAliveOnce(ctx, id); err != nil {
			t.Fatalf("renewal after %v (previous %v before): %v", time.Since(start), now.Sub(last), err)
		}
		last = now
	}
	mustGetOne(t, b, "ka")
	w := b.Watch(ctx, "ka", false, 0)
	evs := recvEvents(t, w, 1)
	if evs[0].Type != backend.EventDelete {
		t.Fatalf("event %s, want the expiry's delete", fmtEvent(evs[0]))
	}
	if since := time.Since(last); since < ttl*9/10 {
		t.Fatalf("lease of %v expired %v after its last renewal", ttl, since)
	}
}
