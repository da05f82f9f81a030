package membackend

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/pilotage/pilotage/coord/internal/backend"
)

// errDuplicateKey is etcd's error for a txn branch that writes a key twice
// (two puts, or a put and a delete covering it).
var errDuplicateKey = errors.New("duplicate key given in txn request")

// keyIndex holds the live keys: a map for lookups and a sorted slice of
// names for prefix ranges (inserting costs a copy of the slice, which is
// cheap at the sizes one process's coordination state reaches).
type keyIndex struct {
	kvs   map[string]*backend.KeyValue
	names []string // sorted
}

func newKeyIndex() keyIndex {
	return keyIndex{kvs: make(map[string]*backend.KeyValue)}
}

func (x *keyIndex) get(key string) *backend.KeyValue { return x.kvs[key] }

func (x *keyIndex) set(kv *backend.KeyValue) {
	if _, ok := x.kvs[kv.Key]; !ok {
		i, _ := slices.BinarySearch(x.names, kv.Key)
		x.names = slices.Insert(x.names, i, kv.Key)
	}
	x.kvs[kv.Key] = kv
}

func (x *keyIndex) remove(key string) {
	if _, ok := x.kvs[key]; !ok {
		return
	}
	delete(x.kvs, key)
	i, _ := slices.BinarySearch(x.names, key)
	x.names = slices.Delete(x.names, i, i+1)
}

// match returns the keys op selects, in key order: key alone, or every key
// starting with it if prefix.
func (x *keyIndex) match(key string, prefix bool) []*backend.KeyValue {
	if !prefix {
		if kv := x.kvs[key]; kv != nil {
			return []*backend.KeyValue{kv}
		}
		return nil
	}
	i := sort.SearchStrings(x.names, key)
	var out []*backend.KeyValue
	for ; i < len(x.names) && strings.HasPrefix(x.names[i], key); i++ {
		out = append(out, x.kvs[x.names[i]])
	}
	return out
}

// checkTxn rejects what etcd rejects before applying anything: an op with
// no key, an unknown kind or field, and a branch that writes a key twice.
// Both branches are checked, as etcd does.
func checkTxn(t backend.Txn) error {
	for _, c := range t.If {
		if c.Field != backend.CreateRevision && c.Field != backend.ModRevision {
			return fmt.Errorf("compare %q: unknown field %d", c.Key, c.Field)
		}
	}
	for _, ops := range [][]backend.Op{t.Then, t.Else} {
		if err := checkOps(ops); err != nil {
			return err
		}
	}
	return nil
}

func checkOps(ops []backend.Op) error {
	puts := make(map[string]bool)
	var dels []backend.Op
	for _, op := range ops {
		switch op.Kind {
		case backend.OpGet, backend.OpDelete, backend.OpPut:
		default:
			return fmt.Errorf("op on %q: unknown kind %d", op.Key, op.Kind)
		}
		if op.Key == "" && (op.Kind == backend.OpPut || !op.Prefix) {
			return errors.New("key is not provided")
		}
		switch op.Kind {
		case backend.OpPut:
			if puts[op.Key] {
				return fmt.Errorf("put %q: %w", op.Key, errDuplicateKey)
			}
			puts[op.Key] = true
		case backend.OpDelete:
			dels = append(dels, op)
		}
	}
	for k := range puts {
		for _, d := range dels {
			if k == d.Key || d.Prefix && strings.HasPrefix(k, d.Key) {
				return fmt.Errorf("put %q and delete %q: %w", k, d.Key, errDuplicateKey)
			}
		}
	}
	return nil
}

// A write is one transaction being applied: every change it makes is at
// rev, and its events become that revision's history if there are any.
type write struct {
	s      *store
	rev    int64
	events []backend.Event
}

func (s *store) beginWrite() *write {
	return &write{s: s, rev: s.rev + 1}
}

// endWrite commits w's revision if it changed something.
func (s *store) endWrite(w *write) {
	if len(w.events) == 0 {
		return
	}
	s.rev = w.rev
	s.hist.append(w.rev, w.events, s.maxHistRevs, s.maxHistBytes)
	close(s.changed)
	s.changed = make(chan struct{})
}

// apply runs one checked op. Reads see the txn's earlier writes, as in
// etcd.
func (w *write) apply(op backend.Op) backend.OpResult {
	switch op.Kind {
	case backend.OpPut:
		w.put(op.Key, op.Value, op.Lease)
		return backend.OpResult{}
	case backend.OpDelete:
		var res backend.OpResult
		for _, kv := range w.s.keys.match(op.Key, op.Prefix) {
			res.KVs = append(res.KVs, cloneKV(kv))
			w.delete(kv.Key)
		}
		res.Deleted = int64(len(res.KVs))
		return res
	default:
		return backend.OpResult{KVs: w.s.read(op)}
	}
}

func (w *write) put(key string, value []byte, lease backend.LeaseID) {
	s := w.s
	kv := &backend.KeyValue{
		Key:            key,
		Value:          slices.Clone(value),
		CreateRevision: w.rev,
		ModRevision:    w.rev,
		Version:        1,
		Lease:          lease,
	}
	if old := s.keys.get(key); old != nil {
		kv.CreateRevision = old.CreateRevision
		kv.Version = old.Version + 1
		if old.Lease != lease {
			s.leases.detach(old.Lease, key)
		}
	}
	s.leases.attach(lease, key)
	s.keys.set(kv)
	// Stored values are never mutated, so the event may share kv's.
	w.events = append(w.events, backend.Event{Type: backend.EventPut, KV: *kv})
}

func (w *write) delete(key string) {
	s := w.s
	old := s.keys.get(key)
	if old == nil {
		return
	}
	s.leases.detach(old.Lease, key)
	s.keys.remove(key)
	w.events = append(w.events, backend.Event{
		Type: backend.EventDelete,
		KV:   backend.KeyValue{Key: key, ModRevision: w.rev},
	})
}

// read returns copies of the keys a Get selects, sorted and limited.
func (s *store) read(op backend.Op) []backend.KeyValue {
	kvs := s.keys.match(op.Key, op.Prefix)
	if op.SortByCreate {
		kvs = slices.Clone(kvs)
		slices.SortStableFunc(kvs, func(a, b *backend.KeyValue) int {
			return cmp.Compare(a.CreateRevision, b.CreateRevision)
		})
	}
	if op.Limit > 0 && int64(len(kvs)) > op.Limit {
		kvs = kvs[:op.Limit]
	}
	out := make([]backend.KeyValue, len(kvs))
	for i, kv := range kvs {
		out[i] = cloneKV(kv)
	}
	return out
}

func cloneKV(kv *backend.KeyValue) backend.KeyValue {
	c := *kv
	c.Value = slices.Clone(kv.Value)
	return c
}
