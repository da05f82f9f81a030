// Package backend is the storage contract the coord package is written
// against: a linearizable key/value store with global revisions, leases
// and watches, as etcd provides. Two implementations satisfy it: etcd
// itself (package etcdbackend, under pilotage run and on Kubernetes) and
// an in-memory store for a single process (package membackend, for go run
// and pilotagetest); the same conformance and linearizability tests run
// against both.
//
// Keys are opaque strings; the coord package owns the layout. Every write
// gets the next revision of the whole store (a strictly increasing int64,
// kept across restarts where the store is durable), so a key's create
// revision orders every creation the store ever made.
package backend

import (
	"context"
	"errors"
	"time"
)

// ErrLeaseNotFound is returned for a lease that expired, was revoked or
// never existed.
var ErrLeaseNotFound = errors.New("lease not found")

// ErrCompacted is the error of a watch or a read from a revision the store
// no longer keeps.
var ErrCompacted = errors.New("revision compacted")

// A LeaseID names a lease; 0 is no lease.
type LeaseID int64

// A KeyValue is one key at one revision.
type KeyValue struct {
	Key            string
	Value          []byte
	CreateRevision int64 // the revision of the write that created the key
	ModRevision    int64 // the revision of its last write
	Version        int64 // writes since it was created, 1 for the first
	Lease          LeaseID
}

// A Field is what a Cmp compares.
type Field int

const (
	// CreateRevision compares the key's create revision (0: absent).
	CreateRevision Field = iota
	// ModRevision compares the key's mod revision (0: absent).
	ModRevision
)

// A Cmp is a condition of a Txn: the Field of Key equals Revision.
type Cmp struct {
	Key      string
	Field    Field
	Revision int64
}

// An OpKind says what an Op does.
type OpKind int

const (
	OpGet OpKind = iota
	OpPut
	OpDelete
)

// An Op is one operation of a Txn.
type Op struct {
	Kind   OpKind
	Key    string
	Prefix bool    // Get and Delete: every key starting with Key
	Value  []byte  // Put
	Lease  LeaseID // Put: the key is deleted when the lease ends
	// Get only: sort by create revision, oldest first (else by key), and
	// return at most Limit keys (0: all).
	SortByCreate bool
	Limit        int64
}

// A Txn applies Then if every Cmp holds, else Else, atomically.
type Txn struct {
	If   []Cmp
	Then []Op
	Else []Op
}

// An OpResult is the result of one Op of a Txn.
type OpResult struct {
	KVs     []KeyValue // Get: the keys found; Delete: the keys deleted
	Deleted int64      // Delete: how many keys were deleted
}

// A TxnResult is the result of a Txn.
type TxnResult struct {
	Succeeded bool       // every Cmp held: Then ran
	Revision  int64      // the store's revision after the Txn
	Results   []OpResult // one per Op of the branch that ran
}

// An EventType says what a watch event is.
type EventType int

const (
	EventPut EventType = iota
	EventDelete
)

// An Event is one change of one key. For a delete, KV has the key, its
// ModRevision is the revision of the delete, and Value is empty.
type Event struct {
	Type EventType
	KV   KeyValue
}

// A WatchResponse carries the events of one revision or more, in revision
// order, or the error that ended the watch (the channel is closed after).
type WatchResponse struct {
	Events []Event
	Err    error
}

// A Backend is a linearizable store. Its methods are safe for concurrent
// use and return early with ctx's error.
type Backend interface {
	// Txn applies t atomically.
	Txn(ctx context.Context, t Txn) (TxnResult, error)
	// Get is a Txn of one OpGet: the keys found and the store's revision.
	Get(ctx context.Context, op Op) ([]KeyValue, int64, error)

	// Watch streams every change of key (of every key under it if prefix)
	// from revision from on (0: from the next write), in revision order,
	// none lost or repeated, until ctx ends (the channel is then closed).
	// A from revision no longer kept ends it with ErrCompacted.
	Watch(ctx context.Context, key string, prefix bool, from int64) <-chan WatchResponse

	// Grant creates a lease of ttl; its keys are deleted when it ends.
	Grant(ctx context.Context, ttl time.Duration) (LeaseID, error)
	// KeepAliveOnce renews the lease and returns its new time to live.
	KeepAliveOnce(ctx context.Context, id LeaseID) (time.Duration, error)
	// Revoke ends the lease at once, deleting its keys.
	Revoke(ctx context.Context, id LeaseID) error

	// Close releases the backend's resources; its leases are not revoked.
	Close() error
}
