package appfs

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
	"github.com/pilotage/pilotage/coord"
)

// storeOf opens a session of the test with a's coordination store.
func storeOf(t *testing.T, a *testApp) *coord.Store {
	t.Helper()
	c := control.Dial(a.dir)
	defer c.Close()
	r, err := c.Get(testContext(t), api.Join(api.Apps, a.name))
	if err != nil {
		t.Fatal(err)
	}
	var st api.AppStatus
	if err := r.DecodeStatus(&st); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := coord.Connect(ctx, coord.Options{Endpoints: st.Coordination.Endpoints, Prefix: st.Coordination.Prefix,
		Replica: "test", PID: os.Getpid(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConfigKeys(t *testing.T) {
	a := shared(t)
	f := newFS(t, a.root)
	ctx := testContext(t)
	const key = "/apps/shop/config/limits%2Fapi"

	// A new key, created, then edited with its version.
	v1, err := f.Write(ctx, key, json.RawMessage(`{"rate": 1}`), "")
	if err != nil {
		t.Fatalf("create %s: %v", key, err)
	}
	c := mustRead(t, f, key, tree.ReadOptions{})
	if c.Version != v1 || c.Redacted || string(c.Value.(json.RawMessage)) != `{"rate": 1}` {
		t.Fatalf("cat %s = %+v, want version %s", key, c, v1)
	}
	v2, err := f.Write(ctx, key, json.RawMessage(`{"rate": 2}`), c.Version)
	if err != nil || v2 == v1 {
		t.Fatalf("edit %s at version %s = %s, %v", key, c.Version, v2, err)
	}
	// An edit from the stale version is refused.
	_, err = f.Write(ctx, key, json.RawMessage(`{"rate": 3}`), v1)
	if !errors.Is(err, tree.ErrConflict) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("edit %s at the stale version %s = %v, want one line wrapping ErrConflict", key, v1, err)
	}
	if c := mustRead(t, f, key, tree.ReadOptions{}); string(c.Value.(json.RawMessage)) != `{"rate": 2}` {
		t.Errorf("after the refused edit: %s", c.Value)
	}
	// Creating a key with version 0 means it must not exist.
	if _, err := f.Write(ctx, key, json.RawMessage(`{}`), "0"); !errors.Is(err, tree.ErrConflict) {
		t.Errorf("create an existing key = %v, want ErrConflict", err)
	}
	// The cache shows the key.
	eventually(t, "the key in ls config", func() bool {
		n, err := f.Stat(ctx, key)
		return err == nil && n.Kind == "ConfigKey" && n.Editable && n.Remove && n.Name == "limits/api"
	})

	// A text value stays text when edited as a JSON string.
	const text = "/apps/shop/config/motd"
	s := storeOf(t, a)
	if _, err := s.Put(ctx, "motd", []byte("hello world")); err != nil {
		t.Fatal(err)
	}
	c = mustRead(t, f, text, tree.ReadOptions{})
	if c.Value != "hello world" {
		t.Fatalf("cat %s = %#v, want the text", text, c.Value)
	}
	if _, err := f.Write(ctx, text, json.RawMessage(`"goodbye"`), c.Version); err != nil {
		t.Fatal(err)
	}
	if e, err := s.Get(ctx, "motd"); err != nil || string(e.Value) != "goodbye" {
		t.Errorf("the store holds %q, %v; want the text goodbye", e.Value, err)
	}

	// A typed key refuses a value of another type.
	type limits struct{ Rate int }
	if _, err := coord.Config(ctx, s, "typed", limits{Rate: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(ctx, "/apps/shop/config/typed", json.RawMessage(`{"Rate": "fast"}`), ""); !errors.Is(err, tree.ErrInvalid) ||
		!strings.Contains(err.Error(), "does not decode into its registered type") || strings.Contains(err.Error(), "\n") {
		t.Errorf("put a refused typed value = %v, want ErrInvalid with the store's message", err)
	}
	if _, err := f.Write(ctx, "/apps/shop/config/typed", json.RawMessage(`{"Rate": 7}`), ""); err != nil {
		t.Errorf("put a typed value: %v", err)
	}

	// Secrets are redacted unless revealed.
	const secret = "/apps/shop/config/payment%2Fsecret_key"
	if _, err := s.Put(ctx, "payment/secret_key", []byte(`"s3cr3t"`)); err != nil {
		t.Fatal(err)
	}
	c = mustRead(t, f, secret, tree.ReadOptions{})
	if !c.Redacted || c.Value != "<redacted: 8 bytes>" || c.Version == "" {
		t.Errorf("cat %s = %+v, want it redacted", secret, c)
	}
	c = mustRead(t, f, secret, tree.ReadOptions{Reveal: true})
	if c.Redacted || string(c.Value.(json.RawMessage)) != `"s3cr3t"` {
		t.Errorf("cat -reveal %s = %+v", secret, c)
	}
	if _, err := f.Write(ctx, secret, json.RawMessage(`"<redacted: 8 bytes>"`), ""); !errors.Is(err, tree.ErrInvalid) {
		t.Errorf("writing the placeholder back = %v, want ErrInvalid", err)
	}

	// rm.
	if err := f.Remove(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := f.Remove(ctx, key); !errors.Is(err, tree.ErrNotFound) {
		t.Errorf("rm of a removed key = %v, want ErrNotFound", err)
	}
	if _, err := f.Read(ctx, key, tree.ReadOptions{}); !errors.Is(err, tree.ErrNotFound) {
		t.Errorf("cat of a removed key = %v, want ErrNotFound", err)
	}
	if err := f.Remove(ctx, "/apps/shop/components/a.A"); !errors.Is(err, tree.ErrNotSupported) {
		t.Errorf("rm of a component = %v, want ErrNotSupported", err)
	}
}
