package coordtest

import (
	"strings"
	"testing"
	"time"

	"github.com/pilotage/pilotage/coord"
)

// TestOperatorViews: Locks and Elections show who holds what, with
// which token, and who waits.
func TestOperatorViews(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e env) {
		a := e.open(t, coord.Options{Replica: "cart.Cart/1"})
		b := e.open(t, coord.Options{Replica: "cart.Cart/2"})
		ctx := ctxFor(t, 10*time.Second)
		l := lockNow(t, a, "L")
		lockAsync(ctx, b, "L")
		lead, err := a.Election("E").Campaign(ctx, "addr")
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "b waiting", func() bool { return waiters(t, b, "L") == 1 })

		locks, err := b.Locks(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(locks) != 1 || locks[0].Name != "L" || locks[0].Token != l.Token() || locks[0].Waiters != 1 || !strings.HasPrefix(locks[0].Holder, "cart.Cart/1 ") {
			t.Fatalf("Locks = %+v", locks)
		}
		if e.etcd && (locks[0].Expires.Before(time.Now()) || locks[0].Expires.After(time.Now().Add(coord.DefaultTTL+time.Second))) {
			t.Errorf("lock expires at %v, not within its TTL", locks[0].Expires)
		}
		elections, err := b.Elections(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(elections) != 1 {
			t.Fatalf("Elections = %+v, want one", elections)
		}
		want := coord.ElectionState{Name: "E", Leader: coord.Leader{Value: "addr", Token: lead.Token()}, Holder: elections[0].Holder, Candidates: 1}
		if elections[0] != want || !strings.HasPrefix(elections[0].Holder, "cart.Cart/1 ") {
			t.Fatalf("Elections = %+v", elections)
		}
	})
}
