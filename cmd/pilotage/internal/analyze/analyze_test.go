package analyze

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// unit builds a unit started and ready at the given milliseconds after t0;
// -1 means never.
func unit(name string, start, ready int, after ...string) Unit {
	u := Unit{Name: name, After: after}
	if start >= 0 {
		u.Start = at(start)
	}
	if ready >= 0 {
		u.Ready = at(ready)
	}
	return u
}

// diamond: frontend waits for checkout and cart, which both wait for
// catalog; checkout also waits for payment, the slowest.
var diamond = []Unit{
	unit("frontend", 305, 412, "checkout.Checkout", "cart.Cart"),
	unit("cart.Cart", 55, 200, "catalog.Catalog"),
	unit("checkout.Checkout", 125, 301, "payment.Payment", "catalog.Catalog"),
	unit("catalog.Catalog", 0, 50),
	unit("payment.Payment", 0, 120),
}

func chain(t *testing.T, units []Unit) string {
	t.Helper()
	var b strings.Builder
	if err := CriticalChain(&b, units); err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(b.String(), header)
}

func blame(t *testing.T, units []Unit) string {
	t.Helper()
	var b strings.Builder
	if err := Blame(&b, units); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func check(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got\n%s\nwant\n%s", what, got, want)
	}
}

func TestDiamond(t *testing.T) {
	check(t, "critical-chain", chain(t, diamond), `frontend @412ms +107ms
└─checkout.Checkout @301ms +176ms
  └─payment.Payment @120ms +120ms
`)
	check(t, "blame", blame(t, diamond), `  176ms checkout.Checkout
  145ms cart.Cart
  120ms payment.Payment
  107ms frontend
   50ms catalog.Catalog
`)
}

func TestHeader(t *testing.T) {
	var b strings.Builder
	if err := CriticalChain(&b, diamond); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "The time when unit became active or started is printed after the \"@\" character.\nThe time the unit took to start is printed after the \"+\" character.\n\nfrontend @412ms") {
		t.Errorf("got\n%s", b.String())
	}
}

func TestNotReady(t *testing.T) {
	units := append([]Unit{
		unit("worker", -1, -1, "redis", "catalog.Catalog"),
		unit("redis", 10, -1),
	}, diamond...)
	check(t, "critical-chain", chain(t, units), `frontend @412ms +107ms
└─checkout.Checkout @301ms +176ms
  └─payment.Payment @120ms +120ms

redis: not ready (started @10ms)
worker: not started (waiting for redis)
`)
	check(t, "blame", blame(t, units), `  176ms checkout.Checkout
  145ms cart.Cart
  120ms payment.Payment
  107ms frontend
   50ms catalog.Catalog
      - redis: not ready (started @10ms)
      - worker: not started (waiting for redis)
`)
	// Nothing ready at all.
	check(t, "none ready", chain(t, []Unit{unit("cart.Cart", 10, -1), unit("db", 0, -1)}), `db: not ready (started @0us)
cart.Cart: not ready (started @10ms)
`)
}

func TestChainSkipsLaterReadyDeps(t *testing.T) {
	// b restarted and became ready again after a started: a did not wait
	// for that, so the chain goes through c.
	units := []Unit{
		unit("a", 100, 150, "b", "c"),
		unit("b", 120, 400),
		unit("c", 0, 90),
	}
	check(t, "critical-chain", chain(t, units), `b @400ms +280ms
`)
	units[1] = unit("b", 0, 20)
	check(t, "critical-chain", chain(t, units), `a @150ms +50ms
└─c @90ms +90ms
`)
}

func TestChainCycle(t *testing.T) {
	units := []Unit{unit("a", 10, 20, "b"), unit("b", 0, 5, "a")}
	check(t, "critical-chain", chain(t, units), `a @20ms +10ms
└─b @5ms +5ms
`)
}

func TestEmpty(t *testing.T) {
	check(t, "critical-chain", chain(t, nil), "No unit has started.\n")
	check(t, "blame", blame(t, nil), "")
}

func TestFormat(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second:                          "0us",
		850 * time.Microsecond:                "850us",
		412 * time.Millisecond:                "412ms",
		1203 * time.Millisecond:               "1.203s",
		2*time.Minute + 3100*time.Millisecond: "2min 3.100s",
	} {
		if got := Format(d); got != want {
			t.Errorf("Format(%v) = %q, want %q", d, got, want)
		}
	}
}
