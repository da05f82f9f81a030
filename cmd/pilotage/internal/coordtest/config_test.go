package coordtest

import (
	"errors"
	"testing"
	"time"

	"github.com/pilotage/pilotage/coord"
)

type limits struct {
	Rate    int                `json:"rate"`
	Name    string             `json:"name"`
	Ratio   float64            `json:"ratio,omitempty"`
	Tags    []string           `json:"tags,omitempty"`
	Weights map[string]uint8   `json:"weights,omitempty"`
	Next    *limits            `json:"-"`
	Extra   *struct{ On bool } `json:"extra,omitempty"`
}

func TestConfig(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e env) {
		replica, writer := e.open(t, coord.Options{}), e.open(t, coord.Options{})
		ctx := ctxFor(t, 10*time.Second)
		def := limits{Rate: 10, Name: "default"}
		v, err := coord.Config(ctx, replica, "limits", def)
		if err != nil {
			t.Fatal(err)
		}
		if got, rev := v.Get(); got.Rate != 10 || rev != 0 {
			t.Fatalf("Get = %+v @%d, want the default", got, rev)
		}

		// A value that does not decode into limits is refused, by any
		// Store, and nothing is written.
		for _, bad := range []string{
			`{"rate":"fast"}`,
			`{"rate":1.5}`,
			`{"rate":1,"unknown":true}`,
			`{"weights":{"a":300}}`,
			`{"extra":{"On":1}}`,
			`[1,2]`,
			`not json`,
			`{"rate":1} {"rate":2}`,
		} {
			if _, err := writer.Put(ctx, "limits", []byte(bad)); !errors.Is(err, coord.ErrInvalid) {
				t.Errorf("Put %s: %v, want ErrInvalid", bad, err)
			}
		}
		if _, err := writer.Get(ctx, "limits"); !errors.Is(err, coord.ErrNotFound) {
			t.Fatalf("after refused puts: %v, want ErrNotFound", err)
		}

		changed := v.Changed()
		rev, err := writer.Put(ctx, "limits", []byte(`{"rate":99,"name":"fast","tags":["x"],"weights":{"a":3},"extra":{"On":true}}`))
		if err != nil {
			t.Fatal(err)
		}
		within(t, 5*time.Second, "change seen", changed)
		if got, grev := v.Get(); got.Rate != 99 || got.Name != "fast" || got.Extra == nil || !got.Extra.On || grev != rev {
			t.Fatalf("Get = %+v @%d, want the put @%d", got, grev, rev)
		}

		changed = v.Changed()
		if _, err := writer.Delete(ctx, "limits"); err != nil {
			t.Fatal(err)
		}
		within(t, 5*time.Second, "delete seen", changed)
		if got, grev := v.Get(); got.Rate != 10 || grev != 0 {
			t.Fatalf("after delete: %+v @%d, want the default", got, grev)
		}

		// A key without a registered type takes anything.
		if _, err := writer.Put(ctx, "free", []byte("not json")); err != nil {
			t.Fatalf("Put of an unregistered key: %v", err)
		}
		// A stored value that does not decode is reported at Config.
		if _, err := coord.Config(ctx, replica, "free", 0); !errors.Is(err, coord.ErrInvalid) {
			t.Fatalf("Config over an undecodable value: %v, want ErrInvalid", err)
		}
		// A type that JSON cannot carry is refused.
		if _, err := coord.Config(ctx, replica, "fn", func() {}); !errors.Is(err, coord.ErrInvalid) {
			t.Fatalf("Config of a func: %v, want ErrInvalid", err)
		}
	})
}

// TestConfigTypeChanged: a writer that validated against a type since
// replaced finds out in the same transaction as its write.
func TestConfigTypeChanged(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e env) {
		a, writer := e.open(t, coord.Options{}), e.open(t, coord.Options{})
		ctx := ctxFor(t, 10*time.Second)
		if _, err := coord.Config(ctx, a, "n", 0); err != nil {
			t.Fatal(err)
		}
		if _, err := writer.Put(ctx, "n", []byte("1")); err != nil {
			t.Fatalf("put of an int: %v", err)
		}
		if _, err := writer.Delete(ctx, "n"); err != nil {
			t.Fatal(err)
		}
		// n becomes a string: the writer's knowledge of n is stale.
		if _, err := coord.Config(ctx, a, "n", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := writer.Put(ctx, "n", []byte("2")); !errors.Is(err, coord.ErrInvalid) {
			t.Fatalf("put of an int to a string key: %v, want ErrInvalid", err)
		}
		if _, err := writer.Put(ctx, "n", []byte(`"two"`)); err != nil {
			t.Fatalf("put of a string: %v", err)
		}
	})
}
