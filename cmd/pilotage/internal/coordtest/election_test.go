package coordtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pilotage/pilotage/coord"
)

func TestElection(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e env) {
		a, b, obs := e.open(t, coord.Options{}), e.open(t, coord.Options{}), e.open(t, coord.Options{})
		ctx := ctxFor(t, 10*time.Second)
		if _, err := obs.Election("E").Leader(ctx); !errors.Is(err, coord.ErrNoLeader) {
			t.Fatalf("Leader of an empty election: %v, want ErrNoLeader", err)
		}
		observed := make(chan coord.Leader, 10)
		go func() {
			for l, err := range obs.Election("E").Observe(ctx) {
				if err != nil {
					t.Errorf("observe: %v", err)
					return
				}
				observed <- l
			}
		}()

		la, err := a.Election("E").Campaign(ctx, "addr-a")
		if err != nil {
			t.Fatal(err)
		}
		if la.Value() != "addr-a" {
			t.Fatalf("Value = %q", la.Value())
		}
		if got := within(t, 5*time.Second, "a observed", observed); got != (coord.Leader{Value: "addr-a", Token: la.Token()}) {
			t.Fatalf("observed %+v, want a", got)
		}
		if got, err := obs.Election("E").Leader(ctx); err != nil || got.Value != "addr-a" || got.Token != la.Token() {
			t.Fatalf("Leader = %+v, %v", got, err)
		}

		won := make(chan *coord.Leadership, 1)
		go func() {
			lb, err := b.Election("E").Campaign(ctx, "addr-b")
			if err != nil {
				t.Errorf("campaign b: %v", err)
			}
			won <- lb
		}()
		waitFor(t, 5*time.Second, "b a candidate", func() bool {
			es, err := obs.Elections(ctx)
			return err == nil && len(es) == 1 && es[0].Candidates == 2 && es[0].Leader.Value == "addr-a"
		})
		if _, err := la.Put(ctx, "leader", []byte("a")); err != nil {
			t.Fatalf("fenced put of the leader: %v", err)
		}
		if err := la.Resign(ctx); err != nil {
			t.Fatal(err)
		}
		lb := within(t, 5*time.Second, "b leads after a resigned", won)
		if lb.Token() <= la.Token() {
			t.Fatalf("b's token %d after a's %d", lb.Token(), la.Token())
		}
		if got := within(t, 5*time.Second, "b observed", observed); got.Value != "addr-b" || got.Token != lb.Token() {
			t.Fatalf("observed %+v, want b", got)
		}
		if la.Context().Err() == nil {
			t.Fatal("resigned leadership's context alive")
		}
		if _, err := la.Put(ctx, "leader", []byte("stale a")); !errors.Is(err, coord.ErrNotHeld) {
			t.Fatalf("put of a resigned leader: %v, want ErrNotHeld", err)
		}
		if err := la.Resign(ctx); !errors.Is(err, coord.ErrNotHeld) {
			t.Fatalf("second Resign: %v, want ErrNotHeld", err)
		}
		if err := lb.Resign(ctx); err != nil {
			t.Fatal(err)
		}
		if got := within(t, 5*time.Second, "nobody observed", observed); got != (coord.Leader{}) {
			t.Fatalf("observed %+v after every candidate resigned, want none", got)
		}
	})
}

// TestCampaignCancelled: a campaign whose context ends returns its error
// and leaves no candidate behind.
func TestCampaignCancelled(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e env) {
		a, b := e.open(t, coord.Options{}), e.open(t, coord.Options{})
		ctx := ctxFor(t, 10*time.Second)
		if _, err := a.Election("E").Campaign(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		if _, err := b.Election("E").Campaign(short, "b"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("campaign past its deadline: %v", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("campaign returned %v after its 100ms deadline", d)
		}
		waitFor(t, 5*time.Second, "b's candidacy withdrawn", func() bool {
			es, err := a.Elections(ctx)
			return err == nil && len(es) == 1 && es[0].Candidates == 1
		})
	})
}
