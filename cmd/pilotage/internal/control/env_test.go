package control

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
)

// envBackend is a sliceBackend that tells the environment of its
// replicas, and compares and sets its values.
type envBackend struct {
	*mapValues
	revs map[string]int64
}

func (b *envBackend) Env(_ context.Context, path string) (*api.ReplicaEnv, error) {
	if strings.HasSuffix(path, "/1") {
		return nil, api.Errorf(api.CodeConflict, "replica a.A/1 has no process now (stopped)")
	}
	return &api.ReplicaEnv{Path: path, PID: 42, Dir: "/work", Env: []string{"X=1"}}, nil
}

func (b *envBackend) SwapValue(ctx context.Context, path string, value []byte, revision int64) (*api.ConfigValue, error) {
	b.mu.Lock()
	rev := b.revs[path]
	b.mu.Unlock()
	if rev != revision {
		return nil, api.Errorf(api.CodeConflict, "revision conflict: expected revision %d, found %d", revision, rev)
	}
	v, err := b.PutValue(ctx, path, value)
	if err == nil {
		b.mu.Lock()
		b.revs[path] = rev + 1
		v.Revision = rev + 1
		b.mu.Unlock()
	}
	return v, err
}

// GET /v2/env answers the environment of a replica, and why there is none
// for what is not one; PUT /v2/value?revision=N compares and sets.
func TestEnvAndSwap(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sb := newSliceBackend()
	sb.set(t, api.KindApp, "/apps/shop", api.AppStatus{})
	sb.set(t, api.KindComponent, "/apps/shop/components/a.A", api.ComponentStatus{})
	for _, r := range []string{"0", "1"} {
		sb.set(t, api.KindReplica, "/apps/shop/components/a.A/replicas/"+r, api.ReplicaStatus{})
	}
	b := &envBackend{mapValues: &mapValues{sliceBackend: sb, m: map[string][]byte{}}, revs: map[string]int64{}}
	dir := tempDir(t)
	srv, err := Listen(dir, b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := Dial(dir)
	defer c.Close()

	e, err := c.Env(ctx, "/apps/shop/components/a.A/replicas/0")
	if err != nil || e.PID != 42 || e.Dir != "/work" || !slices.Equal(e.Env, []string{"X=1"}) {
		t.Errorf("env of replica 0: %+v, %v", e, err)
	}
	if _, err := c.Env(ctx, "/apps/shop/components/a.A/replicas/1"); !errors.Is(err, api.ErrConflict) || !strings.Contains(err.Error(), "no process") {
		t.Errorf("env of a stopped replica: %v", err)
	}
	if _, err := c.Env(ctx, "/apps/shop/components/a.A"); !errors.Is(err, api.ErrBadRequest) {
		t.Errorf("env of a component: %v", err)
	}
	if _, err := c.Env(ctx, "/apps/shop/components/a.A/replicas/7"); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("env of no replica: %v", err)
	}

	path, _ := ConfigPath("shop", "k")
	v, err := c.CompareAndSwapValue(ctx, path, []byte("1"), 0)
	if err != nil || v.Revision != 1 {
		t.Fatalf("create with revision 0: %+v, %v", v, err)
	}
	if _, err := c.CompareAndSwapValue(ctx, path, []byte("2"), 0); !errors.Is(err, api.ErrConflict) {
		t.Errorf("put at a stale revision: %v", err)
	}
	if v, err := c.CompareAndSwapValue(ctx, path, []byte("2"), 1); err != nil || v.Revision != 2 {
		t.Errorf("put at the revision: %+v, %v", v, err)
	}

	// A backend that neither tells environments nor compares and sets.
	plain := tempDir(t)
	srv2, err := Listen(plain, &mapValues{sliceBackend: sb, m: map[string][]byte{}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Close()
	c2 := Dial(plain)
	defer c2.Close()
	if _, err := c2.Env(ctx, "/apps/shop/components/a.A/replicas/0"); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("env of a backend without: %v", err)
	}
	if _, err := c2.CompareAndSwapValue(ctx, path, []byte("1"), 0); !errors.Is(err, api.ErrBadRequest) || !strings.Contains(err.Error(), "does not compare and set") {
		t.Errorf("swap on a backend without: %v", err)
	}
}
