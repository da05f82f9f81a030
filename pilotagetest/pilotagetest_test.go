package pilotagetest_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/pilotage/pilotage"
	"github.com/pilotage/pilotage/internal/testapp"
	"github.com/pilotage/pilotage/internal/testapp/money"
	"github.com/pilotage/pilotage/pilotagetest"
)

func TestCallsAndErrors(t *testing.T) {
	ctx := context.Background()
	for _, r := range pilotagetest.AllRunners() {
		r.Test(t, func(t *testing.T, f testapp.Front) {
			if got, err := f.HalfViaCalc(ctx, 42); err != nil || got != 21 {
				t.Errorf("HalfViaCalc(42) = %d, %v; want 21", got, err)
			}
			_, err := f.HalfViaCalc(ctx, 3)
			if !errors.Is(err, testapp.ErrOdd) || err.Error() != "half of 3: odd number" {
				t.Errorf("HalfViaCalc(3) = %v; want an error wrapping ErrOdd with the original message", err)
			}
		})
	}
}

// TestErrorOfPackageWithoutComponents checks that Local and RPC mode agree
// on an error declared in a package without components: it keeps its
// identity and its message across the boundary.
func TestErrorOfPackageWithoutComponents(t *testing.T) {
	ctx := context.Background()
	for _, r := range pilotagetest.AllRunners() {
		r.Test(t, func(t *testing.T, f testapp.Front) {
			total, err := f.Total(ctx, []money.Amount{{Currency: "EUR", Cents: 100}, {Currency: "EUR", Cents: 50}})
			if err != nil || total != (money.Amount{Currency: "EUR", Cents: 150}) {
				t.Errorf("Total in one currency = %+v, %v; want 150 EUR cents", total, err)
			}
			_, err = f.Total(ctx, []money.Amount{{Currency: "EUR", Cents: 100}, {Currency: "USD", Cents: 50}})
			if !errors.Is(err, money.ErrCurrencyMismatch) || err.Error() != "add USD to EUR: currency mismatch" {
				t.Errorf("Total in two currencies = %v; want an error wrapping money.ErrCurrencyMismatch with the original message", err)
			}
		})
	}
}

func TestPanicBecomesError(t *testing.T) {
	for _, r := range pilotagetest.AllRunners() {
		r.Test(t, func(t *testing.T, c testapp.Calc) {
			err := c.Boom(context.Background())
			if !errors.Is(err, pilotage.ErrPanic) || !strings.Contains(err.Error(), "boom") {
				t.Fatalf("Boom() = %v; want an error wrapping pilotage.ErrPanic mentioning the panic value", err)
			}
			// The component survived its panic.
			if n, err := c.Calls(context.Background()); err != nil || n != 1 {
				t.Errorf("Calls() after panic = %d, %v; want 1", n, err)
			}
		})
	}
}

// TestDivergencePointerAliasing documents the one difference between local
// and remote calls that programs can observe: arguments are copied across a
// process boundary, so a callee's writes through a pointer argument reach the
// caller only when both share a process. Return what you change instead.
func TestDivergencePointerAliasing(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		runner    pilotagetest.Runner
		callerSee int
	}{
		{pilotagetest.Local, 7}, // the callee wrote through the caller's pointer
		{pilotagetest.RPC, 0},   // the callee wrote to a copy
	} {
		tc.runner.Test(t, func(t *testing.T, c testapp.Calc) {
			p := &testapp.Point{}
			got, err := c.Move(ctx, p, 7)
			if err != nil {
				t.Fatal(err)
			}
			if got.X != 7 {
				t.Errorf("returned point X = %d; want 7 in every mode", got.X)
			}
			if p.X != tc.callerSee {
				t.Errorf("caller's point X = %d; want %d in this mode", p.X, tc.callerSee)
			}
		})
	}
}

type fakeCalc struct{ testapp.Calc }

func (fakeCalc) Half(context.Context, int) (int, error) { return -1, nil }

func TestFake(t *testing.T) {
	for _, r := range pilotagetest.AllRunners() {
		r.Fakes = []pilotagetest.FakeComponent{pilotagetest.Fake[testapp.Calc](fakeCalc{})}
		r.Test(t, func(t *testing.T, f testapp.Front) {
			if got, err := f.HalfViaCalc(context.Background(), 10); err != nil || got != -1 {
				t.Errorf("HalfViaCalc with a fake Calc = %d, %v; want -1 from the fake", got, err)
			}
		})
	}
}

// TestInjectedRetry checks that RPC mode runs each call to an idempotent
// method twice, from the test body and between components, with an error
// reply as with a result, and every other call once; that Local mode, and
// RPC mode with InjectRetries off, run every call once. Calc.Half is
// declared idempotent and counts its calls, as a method wrongly declared
// idempotent would; Calc.Move counts its calls and is not idempotent.
func TestInjectedRetry(t *testing.T) {
	ctx := context.Background()
	noRetries := pilotagetest.RPC
	noRetries.Name, noRetries.InjectRetries = "RPCWithoutInjectedRetries", false
	for _, tc := range []struct {
		runner pilotagetest.Runner
		runs   int64 // runs of Half per call
	}{
		{pilotagetest.Local, 1},
		{pilotagetest.RPC, 2},
		{noRetries, 1},
	} {
		tc.runner.Test(t, func(t *testing.T, c testapp.Calc, f testapp.Front) {
			var want int64
			check := func(what string) {
				t.Helper()
				if n, err := c.Calls(ctx); err != nil || n != want {
					t.Fatalf("after %s: Calls() = %d, %v; want %d", what, n, err, want)
				}
			}
			if got, err := c.Half(ctx, 8); err != nil || got != 4 {
				t.Fatalf("Half(8) = %d, %v; want 4", got, err)
			}
			want += tc.runs
			check("Half(8) from the test")
			if _, err := c.Half(ctx, 3); !errors.Is(err, testapp.ErrOdd) {
				t.Fatalf("Half(3) = %v; want an error wrapping ErrOdd", err)
			}
			want += tc.runs
			check("Half(3) failing")
			// Front.HalfViaCalc is not idempotent; the Half it calls is.
			if got, err := f.HalfViaCalc(ctx, 8); err != nil || got != 4 {
				t.Fatalf("HalfViaCalc(8) = %d, %v; want 4", got, err)
			}
			want += tc.runs
			check("HalfViaCalc(8), a call between components")
			if _, err := c.Move(ctx, &testapp.Point{}, 1); err != nil {
				t.Fatal(err)
			}
			want++
			check("Move, not idempotent")
		})
	}
}
