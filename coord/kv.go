package coord

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/pilotage/pilotage/coord/internal/backend"
)

// An Entry is a key's value at a revision.
type Entry struct {
	Key            string
	Value          []byte
	Revision       int64 // of its last write (CompareAndSwap compares it)
	CreateRevision int64
}

// A WriteOption modifies Put, CompareAndSwap and Delete.
type WriteOption interface{ writeOption() }

// FencedBy makes a write conditional on still holding l (a *Lock or a
// *Leadership): if it was lost, the write fails with ErrFenced and changes
// nothing. The write must go through a Store sharing l's connection (any
// Store from Open in l's process does); else it fails with ErrInvalid.
func FencedBy(l Holder) WriteOption { return fencedBy{l} }

type fencedBy struct{ h Holder }

func (fencedBy) writeOption() {}

// A Holder is a *Lock or a *Leadership.
type Holder interface {
	Token() uint64
	Context() context.Context
}

// holdOf returns the hold of a Holder of this package.
func holdOf(h Holder) (*hold, error) {
	switch h := h.(type) {
	case *Lock:
		if h != nil && h.h != nil {
			return h.h, nil
		}
	case *Leadership:
		if h != nil && h.h != nil {
			return h.h, nil
		}
	}
	return nil, invalid("FencedBy", fmt.Sprintf("takes a *Lock or a *Leadership, not %T", h))
}

// configKey and schemaKey are the backend keys of a user key and of the
// schema registered for it.
func (s *Store) configKey(key string) string { return s.key("config/", key) }
func (s *Store) schemaKey(key string) string { return s.key("schemas/", key) }

// Get returns key's entry (ErrNotFound if absent).
func (s *Store) Get(ctx context.Context, key string) (Entry, error) {
	if err := checkKey(key); err != nil {
		return Entry{}, fmt.Errorf("coord: get: %w", err)
	}
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	kvs, _, err := s.b.Get(ctx, backend.Op{Kind: backend.OpGet, Key: s.configKey(key)})
	if err != nil {
		return Entry{}, s.fail(ctx, "get "+key, err)
	}
	if len(kvs) == 0 {
		return Entry{}, fmt.Errorf("coord: get %s: %w", key, ErrNotFound)
	}
	return entry(key, kvs[0]), nil
}

func entry(key string, kv backend.KeyValue) Entry {
	return Entry{Key: key, Value: kv.Value, Revision: kv.ModRevision, CreateRevision: kv.CreateRevision}
}

// Put sets key to value and returns the write's revision. A key with a
// registered config type (see Config) only takes a value that decodes into
// it (ErrInvalid otherwise, nothing written).
func (s *Store) Put(ctx context.Context, key string, value []byte, opts ...WriteOption) (int64, error) {
	return s.write(ctx, "put", key, value, -1, opts)
}

// CompareAndSwap sets key to value if its revision is still revision (0:
// the key must not exist), and returns the write's revision; else it
// fails with a *ConflictError.
func (s *Store) CompareAndSwap(ctx context.Context, key string, value []byte, revision int64, opts ...WriteOption) (int64, error) {
	if revision < 0 {
		return 0, fmt.Errorf("coord: compare-and-swap: %w", invalid("revision", fmt.Sprintf("%d is negative", revision)))
	}
	return s.write(ctx, "compare-and-swap", key, value, revision, opts)
}

// Delete removes key; deleting an absent key is not an error. It returns
// the store's revision after the delete.
func (s *Store) Delete(ctx context.Context, key string, opts ...WriteOption) (int64, error) {
	return s.write(ctx, "delete", key, nil, -1, opts)
}

// write puts value at key (deletes key if what is "delete"), if key is at
// revision (unless it is -1), if the fence of opts holds, and, for a put,
// if the schema registered for key is the one value was validated
// against: one transaction, retried only when that schema changed.
func (s *Store) write(ctx context.Context, what, key string, value []byte, revision int64, opts []WriteOption) (int64, error) {
	if err := checkKey(key); err != nil {
		return 0, fmt.Errorf("coord: %s: %w", what, err)
	}
	if err := checkValue(key, value); err != nil {
		return 0, fmt.Errorf("coord: %s: %w", what, err)
	}
	var fence *hold
	for _, o := range opts {
		f, ok := o.(fencedBy)
		if !ok {
			return 0, fmt.Errorf("coord: %s %s: %w", what, key, invalid("write option", fmt.Sprintf("%T is unknown", o)))
		}
		h, err := holdOf(f.h)
		if err == nil && h.s.b != s.b {
			err = invalid("FencedBy", "the lock or leadership is held through another connection to the store: write through the Store that holds it")
		}
		if err != nil {
			return 0, fmt.Errorf("coord: %s %s: %w", what, key, err)
		}
		fence = h
	}
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	ck, sk := s.configKey(key), s.schemaKey(key)
	put := what != "delete"
	schema := s.schemas.get(key)
	for {
		var t backend.Txn
		if put {
			if err := schema.validate(key, value); err != nil {
				return 0, fmt.Errorf("coord: %s: %w", what, err)
			}
			t.If = append(t.If, backend.Cmp{Key: sk, Field: backend.ModRevision, Revision: schema.revision})
			t.Then = append(t.Then, backend.Op{Kind: backend.OpPut, Key: ck, Value: value})
		} else {
			t.Then = append(t.Then, backend.Op{Kind: backend.OpDelete, Key: ck})
		}
		if revision >= 0 {
			t.If = append(t.If, backend.Cmp{Key: ck, Field: backend.ModRevision, Revision: revision})
		}
		if fence != nil {
			c, err := fence.fence()
			if err != nil {
				return 0, fmt.Errorf("coord: %s %s: %w", what, key, err)
			}
			t.If = append(t.If, c)
		}
		// On failure: what every condition found.
		t.Else = []backend.Op{{Kind: backend.OpGet, Key: sk}, {Kind: backend.OpGet, Key: ck}}
		if fence != nil {
			t.Else = append(t.Else, backend.Op{Kind: backend.OpGet, Key: fence.key})
		}
		res, err := s.b.Txn(ctx, t)
		if err != nil {
			return 0, s.fail(ctx, what+" "+key, err)
		}
		if res.Succeeded {
			return res.Revision, nil
		}
		if fence != nil {
			if kvs := res.Results[2].KVs; len(kvs) == 0 || kvs[0].CreateRevision != fence.token {
				cause := fmt.Errorf("%w: %s %s: found lost by a fenced write", ErrNotHeld, fence.kind, fence.name)
				fence.cancel(cause)
				return 0, fmt.Errorf("coord: %s %s: %s %s: %w (%w)", what, key, fence.kind, fence.name, ErrFenced, cause)
			}
		}
		if revision >= 0 {
			current := int64(0)
			if kvs := res.Results[1].KVs; len(kvs) > 0 {
				current = kvs[0].ModRevision
			}
			if current != revision {
				return 0, fmt.Errorf("coord: %s: %w", what, &ConflictError{Key: key, Expected: revision, Current: current})
			}
		}
		// The schema changed since value was validated: validate anew.
		if schema, err = s.schemas.load(key, res.Results[0].KVs); err != nil {
			return 0, fmt.Errorf("coord: %s: %w", what, err)
		}
	}
}

// List returns every entry whose key starts with prefix, sorted by key,
// and the revision they were read at (to Watch from revision+1).
func (s *Store) List(ctx context.Context, prefix string) ([]Entry, int64, error) {
	if err := checkPrefix("prefix", prefix); err != nil {
		return nil, 0, fmt.Errorf("coord: list: %w", err)
	}
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	base := s.configKey("")
	kvs, rev, err := s.b.Get(ctx, backend.Op{Kind: backend.OpGet, Key: base + prefix, Prefix: true})
	if err != nil {
		return nil, 0, s.fail(ctx, "list "+prefix, err)
	}
	entries := make([]Entry, len(kvs))
	for i, kv := range kvs {
		entries[i] = entry(strings.TrimPrefix(kv.Key, base), kv)
	}
	slices.SortFunc(entries, func(a, b Entry) int { return strings.Compare(a.Key, b.Key) })
	return entries, rev, nil
}
