package coord

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/pilotage/pilotage/coord/internal/backend"
	"github.com/pilotage/pilotage/coord/internal/typeschema"
)

// A Value follows one config key decoded (as JSON) into a T. Its type is
// registered for the key, so that a write of a value that does not decode
// into T is refused (ErrInvalid), not met by a replica later.
//
// The registration is the JSON description of T stored beside the key
// (see package typeschema): every Put of the key, from any process,
// checks the value against it in the same transaction as the write. The
// last Config call for a key wins: replicas running two versions of T
// should only make compatible changes to it.
type Value[T any] struct {
	def T

	mu      sync.Mutex
	value   T
	rev     int64
	changed chan struct{}
}

// Config registers T for key, reads it (def if the key is absent) and
// follows it until ctx ends.
func Config[T any](ctx context.Context, s *Store, key string, def T) (*Value[T], error) {
	if err := checkKey(key); err != nil {
		return nil, fmt.Errorf("coord: config: %w", err)
	}
	schema, err := typeschema.Of(reflect.TypeFor[T]())
	if err != nil {
		return nil, fmt.Errorf("coord: config %s: %w", key, invalid("type", err.Error()))
	}
	desc, err := json.Marshal(schema)
	if err != nil {
		return nil, fmt.Errorf("coord: config %s: encode the type: %w", key, err)
	}
	cctx, cancel := s.callContext(ctx)
	defer cancel()
	// The stored value first: one that does not decode into T leaves the
	// key's registered type as it was.
	kvs, rev, err := s.b.Get(cctx, backend.Op{Kind: backend.OpGet, Key: s.configKey(key)})
	if err != nil {
		return nil, s.fail(cctx, "config "+key, err)
	}
	v := &Value[T]{def: def, value: def, changed: make(chan struct{})}
	if len(kvs) > 0 {
		value, err := decode[T](kvs[0].Value)
		if err != nil {
			return nil, fmt.Errorf("coord: config %s: the stored value (revision %d): %w", key, kvs[0].ModRevision, invalid("value", err.Error()))
		}
		v.value, v.rev = value, kvs[0].ModRevision
	}
	if err := s.register(cctx, key, desc); err != nil {
		return nil, err
	}
	go v.follow(ctx, s, key, rev+1) // what was written since the read too
	return v, nil
}

// register stores desc as the schema of key unless it is there already.
func (s *Store) register(ctx context.Context, key string, desc []byte) error {
	sk := s.schemaKey(key)
	kvs, _, err := s.b.Get(ctx, backend.Op{Kind: backend.OpGet, Key: sk})
	if err != nil {
		return s.fail(ctx, "config "+key+": read its type", err)
	}
	if len(kvs) > 0 && bytes.Equal(kvs[0].Value, desc) {
		_, err := s.schemas.load(key, kvs)
		return err
	}
	res, err := s.b.Txn(ctx, backend.Txn{Then: []backend.Op{{Kind: backend.OpPut, Key: sk, Value: desc}}})
	if err != nil {
		return s.fail(ctx, "config "+key+": register its type", err)
	}
	_, err = s.schemas.load(key, []backend.KeyValue{{Key: sk, Value: desc, ModRevision: res.Revision}})
	return err
}

func decode[T any](data []byte) (T, error) {
	var v T
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return v, err
	}
	return v, nil
}

// follow applies the changes of key from revision from on.
func (v *Value[T]) follow(ctx context.Context, s *Store, key string, from int64) {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	ck := s.configKey(key)
	for ctx.Err() == nil {
		for resp := range s.b.Watch(ctx, ck, false, from) {
			if resp.Err != nil {
				break
			}
			for _, ev := range resp.Events {
				from = ev.KV.ModRevision + 1
				if ev.Type == backend.EventDelete {
					v.set(v.def, 0)
					continue
				}
				// A value that does not decode was written against another
				// registration of the key: keep the last good one.
				if value, err := decode[T](ev.KV.Value); err == nil {
					v.set(value, ev.KV.ModRevision)
				}
			}
		}
		if ctx.Err() != nil {
			return
		}
		// The watch failed (compacted): read the key again and go on.
		select {
		case <-time.After(retryDelay(s.ttl)):
		case <-ctx.Done():
			return
		}
		kvs, rev, err := s.b.Get(ctx, backend.Op{Kind: backend.OpGet, Key: ck})
		if err != nil {
			continue
		}
		if len(kvs) == 0 {
			v.set(v.def, 0)
		} else if value, err := decode[T](kvs[0].Value); err == nil && kvs[0].ModRevision != v.revision() {
			v.set(value, kvs[0].ModRevision)
		}
		from = rev + 1
	}
}

func (v *Value[T]) set(value T, rev int64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.value, v.rev = value, rev
	close(v.changed)
	v.changed = make(chan struct{})
}

func (v *Value[T]) revision() int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.rev
}

// Get returns the latest value and its revision (0: the default).
func (v *Value[T]) Get() (T, int64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.value, v.rev
}

// Changed is closed at the next change (call it again after).
func (v *Value[T]) Changed() <-chan struct{} {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.changed
}

// schemaCache keeps the schemas of the keys a Store wrote, with their
// revisions: a Put validates against the cached one and its transaction
// checks that it is still current.
type schemaCache struct {
	mu sync.Mutex
	m  map[string]cachedSchema
}

// A cachedSchema is the schema of a key at a revision (nil, 0: none).
type cachedSchema struct {
	schema   *typeschema.Schema
	revision int64
}

func (c *schemaCache) get(key string) cachedSchema {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[key]
}

// load caches the schema of key read as kvs (none if empty).
func (c *schemaCache) load(key string, kvs []backend.KeyValue) (cachedSchema, error) {
	var cs cachedSchema
	if len(kvs) > 0 {
		schema, err := typeschema.Parse(kvs[0].Value)
		if err != nil {
			return cs, fmt.Errorf("type registered for key %s: %w", key, err)
		}
		cs = cachedSchema{schema: schema, revision: kvs[0].ModRevision}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]cachedSchema{}
	}
	if cs.schema == nil {
		delete(c.m, key)
	} else {
		c.m[key] = cs
	}
	return cs, nil
}

// validate checks value against the schema, if any.
func (cs cachedSchema) validate(key string, value []byte) error {
	if cs.schema == nil {
		return nil
	}
	if err := cs.schema.Validate(value); err != nil {
		return fmt.Errorf("%w: value of key %s does not decode into its registered type %s: %w", ErrInvalid, key, cs.schema.Type, err)
	}
	return nil
}
