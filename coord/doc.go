// Package coord gives components coordination primitives that are safe
// by default: locks with fencing tokens, leader election whose loss is
// enforced on the leader's own clock, and a consistent key/value and
// config store with resumable watches and fenced writes.
//
// A component opens the app's store and uses it like any Go value:
//
//	store, err := coord.Open(ctx)
//	...
//	err = store.Do(ctx, "ledger", func(ctx context.Context, l *coord.Lock) error {
//		// ctx is cancelled the moment the lock is lost; l.Put is fenced:
//		// it fails with ErrFenced, changing nothing, once l is lost.
//		_, err := l.Put(ctx, "ledger/total", []byte("42"))
//		return err
//	})
//
// Nothing is configured. Under "pilotage run" the store is an etcd server
// the supervisor embeds, its data in the app's state directory; with
// endpoints in pilotage.toml's [coordination] table it is that etcd
// cluster (as on Kubernetes); in a single process (go run, pilotagetest)
// it is an in-memory store with the same semantics, kept for the life of
// the process.
//
// Every Store holds one session: a lease the store renews in the
// background. A lock or a leadership lives as long as its session: it is
// lost when the lease ends (the process died and the deployer revoked it,
// or it could not be renewed in time), when an operator releases it by
// force, or when its holder releases it. Its context is cancelled at the
// latest at the send time of the last successful renewal plus the lease's
// time to live minus a safety margin, measured on the holder's monotonic
// clock: before the store itself can let anyone else acquire it. A
// process that is paused (SIGSTOP, a long stall) runs no timer meanwhile:
// it may resume after another holder was granted the lock and act for a
// moment before its context is cancelled. Fenced writes, and the token
// for anything else, are what keep such a holder from doing harm.
//
// A fencing token is the revision at which the store granted the lock: a
// 64-bit number strictly increasing per name over every grant, crash and
// restart of the app (the store's revisions are durable). Pass it to any
// external resource that must refuse a stale holder; writes to the store
// itself are fenced with Lock.Put or the FencedBy option.
package coord
