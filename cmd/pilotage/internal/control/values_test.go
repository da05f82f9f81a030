package control

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
)

// mapValues is a ValueBackend keeping values in a map.
type mapValues struct {
	*sliceBackend
	mu sync.Mutex
	m  map[string][]byte
}

func (b *mapValues) Value(_ context.Context, path string) (*api.ConfigValue, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.m[path]
	if !ok {
		return nil, api.Errorf(api.CodeNotFound, "no config key %q", api.Base(path))
	}
	return &api.ConfigValue{Key: api.Base(path), Value: string(v)}, nil
}

func (b *mapValues) PutValue(_ context.Context, path string, value []byte) (*api.ConfigValue, error) {
	if string(value) == "bad" {
		return nil, api.Errorf(api.CodeBadRequest, "value of key %s does not decode", api.Base(path))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.m[path] = value
	return &api.ConfigValue{Key: api.Base(path), Revision: 1, Value: string(value)}, nil
}

func (b *mapValues) DeleteValue(_ context.Context, path string) (*api.ConfigValue, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.m[path]
	delete(b.m, path)
	return &api.ConfigValue{Key: api.Base(path), Deleted: ok}, nil
}

// /v2/value carries a config key's value both ways, keys with '/' in
// one path element, and the backend's refusal as its code and message;
// a backend without values answers not_found.
func TestValues(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dir := tempDir(t)
	srv, err := Listen(dir, &mapValues{sliceBackend: newSliceBackend(), m: map[string][]byte{}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := Dial(dir)
	defer c.Close()
	path, err := ConfigPath("shop", "limits/api")
	if err != nil || path != "/apps/shop/config/limits%2Fapi" {
		t.Fatalf("ConfigPath: %q, %v", path, err)
	}
	if v, err := c.PutValue(ctx, path, []byte("{\"rate\": 1}\n")); err != nil || v.Key != "limits/api" {
		t.Fatalf("put: %+v, %v", v, err)
	}
	if v, err := c.Value(ctx, path); err != nil || v.Value != "{\"rate\": 1}\n" {
		t.Errorf("get: %+v, %v", v, err)
	}
	if _, err := c.PutValue(ctx, path, []byte("bad")); !errors.Is(err, api.ErrBadRequest) || err.Error() != "value of key limits/api does not decode" {
		t.Errorf("refused put: %v", err)
	}
	if v, err := c.DeleteValue(ctx, path); err != nil || !v.Deleted {
		t.Errorf("delete: %+v, %v", v, err)
	}
	if _, err := c.Value(ctx, path); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("get after delete: %v", err)
	}
	if _, err := ConfigPath("shop", ""); !errors.Is(err, api.ErrBadRequest) {
		t.Errorf("ConfigPath of an empty key: %v", err)
	}

	plain := tempDir(t)
	srv2, err := Listen(plain, newSliceBackend(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Close()
	c2 := Dial(plain)
	defer c2.Close()
	if _, err := c2.Value(ctx, path); !errors.Is(err, api.ErrNotFound) || !strings.Contains(err.Error(), "keeps no config values") {
		t.Errorf("a backend without values: %v", err)
	}
}
