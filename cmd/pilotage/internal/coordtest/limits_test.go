package coordtest

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilotage/pilotage/coord"
)

// TestInvalidInput: every bad name, key and value fails with ErrInvalid
// before anything is sent.
func TestInvalidInput(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e env) {
		s := e.open(t, coord.Options{})
		ctx := ctxFor(t, 10*time.Second)
		longName := strings.Repeat("n", coord.MaxNameSize+1)
		longKey := strings.Repeat("k", coord.MaxKeySize+1)
		bigValue := make([]byte, coord.MaxValueSize+1)
		lockWith := func(name string) func() error {
			return func() error { _, err := s.Lock(ctx, name); return err }
		}
		for _, c := range []struct {
			what string
			call func() error
		}{
			{"empty lock name", lockWith("")},
			{"long lock name", lockWith(longName)},
			{"lock name with /", lockWith("a/b")},
			{"lock name with NUL", lockWith("a\x00b")},
			{"TryLock empty name", func() error { _, err := s.TryLock(ctx, ""); return err }},
			{"election name with /", func() error { _, err := s.Election("a/b").Campaign(ctx, "v"); return err }},
			{"leader of an empty name", func() error { _, err := s.Election("").Leader(ctx); return err }},
			{"long campaign value", func() error { _, err := s.Election("e").Campaign(ctx, string(bigValue)); return err }},
			{"ForceUnlock long name", func() error { _, err := s.ForceUnlock(ctx, longName); return err }},
			{"empty key", func() error { _, err := s.Put(ctx, "", []byte("v")); return err }},
			{"long key", func() error { _, err := s.Get(ctx, longKey); return err }},
			{"key with NUL", func() error { _, err := s.Delete(ctx, "a\x00"); return err }},
			{"big value", func() error { _, err := s.Put(ctx, "k", bigValue); return err }},
			{"big swap", func() error { _, err := s.CompareAndSwap(ctx, "k", bigValue, 0); return err }},
			{"negative revision", func() error { _, err := s.CompareAndSwap(ctx, "k", nil, -1); return err }},
			{"long list prefix", func() error { _, _, err := s.List(ctx, longKey); return err }},
			{"long watch prefix", func() error {
				for _, err := range s.Watch(ctx, longKey, 0) {
					return err
				}
				return nil
			}},
			{"empty config key", func() error { _, err := coord.Config(ctx, s, "", 0); return err }},
			{"FencedBy nil", func() error { _, err := s.Put(ctx, "k", nil, coord.FencedBy(nil)); return err }},
			{"RevokeReplica empty", func() error { _, err := s.RevokeReplica(ctx, "", 0); return err }},
		} {
			if err := c.call(); !errors.Is(err, coord.ErrInvalid) {
				t.Errorf("%s: %v, want ErrInvalid", c.what, err)
			}
		}
		// At the limits, it works.
		if _, err := s.Put(ctx, strings.Repeat("k", coord.MaxKeySize), make([]byte, coord.MaxValueSize)); err != nil {
			t.Errorf("key and value at their limits: %v", err)
		}
		l, err := s.TryLock(ctx, strings.Repeat("n", coord.MaxNameSize))
		if err != nil {
			t.Fatalf("name at its limit: %v", err)
		}
		l.Unlock(ctx)
	})
}

// TestUnreachable: a store that does not answer fails Connect within the
// caller's deadline, or within DialTimeout, with ErrUnavailable.
func TestUnreachable(t *testing.T) {
	nowhere := "unix://" + filepath.Join(t.TempDir(), "nobody.sock")
	for _, c := range []struct {
		name     string
		deadline time.Duration // of ctx; 0: none
		dial     time.Duration
	}{
		{"ctx deadline", 300 * time.Millisecond, time.Minute},
		{"dial timeout", 0, 300 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			if c.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, c.deadline)
				defer cancel()
			}
			start := time.Now()
			s, err := coord.Connect(ctx, coord.Options{Endpoints: []string{nowhere}, Prefix: "/x/", DialTimeout: c.dial})
			if err == nil {
				s.Close()
				t.Fatal("Connect to nowhere succeeded")
			}
			if !errors.Is(err, coord.ErrUnavailable) {
				t.Fatalf("Connect to nowhere: %v, want ErrUnavailable", err)
			}
			if d := time.Since(start); d > 300*time.Millisecond+500*time.Millisecond {
				t.Fatalf("Connect to nowhere took %v, past its 300ms bound", d)
			}
		})
	}
	if _, err := coord.Connect(t.Context(), coord.Options{Endpoints: []string{nowhere}}); !errors.Is(err, coord.ErrInvalid) {
		t.Fatalf("Connect with endpoints and no prefix: %v, want ErrInvalid", err)
	}
}
