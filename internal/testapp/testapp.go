// Package testapp holds small components used by the runtime's own tests:
// each shows one behaviour (argument aliasing, panics, errors, retries).
package testapp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/pilotage/pilotage"
	"github.com/pilotage/pilotage/internal/testapp/money"
)

// Point is a value that tests pass by pointer.
type Point struct{ X, Y int }

// ErrOdd is a sentinel error that must survive the trip between processes.
var ErrOdd = errors.New("odd number")

// Calc is a component with methods that show how calls behave.
type Calc interface {
	// Move sets p.X to x and returns p. Callers in the same process see
	// their own *Point change; remote callers do not (pointers are copied).
	Move(ctx context.Context, p *Point, x int) (*Point, error)
	// Half halves n, or fails with an error wrapping ErrOdd.
	Half(ctx context.Context, n int) (int, error)
	// Boom panics.
	Boom(ctx context.Context) error
	// Calls returns how many calls this instance served.
	Calls(ctx context.Context) (int64, error)
	// Sleep waits d and returns the serving process's PID. Not idempotent,
	// so never retried.
	Sleep(ctx context.Context, d time.Duration) (int, error)
	// PID returns the serving process's PID; while the serving instance's
	// fault is "slow", it hangs until ctx ends instead.
	PID(ctx context.Context) (int, error)
	// Fault sets the serving instance's fault switch: "slow" makes PID
	// hang, "" heals it. It returns the serving process's PID.
	Fault(ctx context.Context, mode string) (int, error)
	// Sicken makes the serving instance's health check fail from now on,
	// and returns the serving process's PID.
	Sicken(ctx context.Context) (int, error)
	// Host returns the serving machine's host name (on Kubernetes, its
	// pod's name).
	Host(ctx context.Context) (string, error)
}

var (
	_ pilotage.Idempotent = Calc.Calls
	_ pilotage.Idempotent = Calc.Half
	_ pilotage.Idempotent = Calc.PID
	_ pilotage.Idempotent = Calc.Host
	_ pilotage.Idempotent = Front.HostsViaCalc
)

type calc struct {
	pilotage.Implements[Calc]
	calls atomic.Int64
	sick  atomic.Bool
	slow  atomic.Bool // Fault("slow")
}

// Health fails once Sicken was called.
func (c *calc) Health(context.Context) error {
	if c.sick.Load() {
		return errors.New("sickened on request")
	}
	return nil
}

func (c *calc) Sicken(context.Context) (int, error) {
	c.sick.Store(true)
	return os.Getpid(), nil
}

func (c *calc) Move(_ context.Context, p *Point, x int) (*Point, error) {
	c.calls.Add(1)
	p.X = x
	return p, nil
}

func (c *calc) Half(_ context.Context, n int) (int, error) {
	c.calls.Add(1)
	if n%2 != 0 {
		return 0, fmt.Errorf("half of %d: %w", n, ErrOdd)
	}
	return n / 2, nil
}

func (c *calc) Boom(context.Context) error {
	c.calls.Add(1)
	panic("boom")
}

func (c *calc) Calls(context.Context) (int64, error) { return c.calls.Load(), nil }

func (c *calc) Sleep(ctx context.Context, d time.Duration) (int, error) {
	c.calls.Add(1)
	select {
	case <-time.After(d):
		return os.Getpid(), nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (c *calc) PID(ctx context.Context) (int, error) {
	if c.slow.Load() {
		<-ctx.Done()
		return 0, ctx.Err()
	}
	return os.Getpid(), nil
}

func (c *calc) Fault(_ context.Context, mode string) (int, error) {
	switch mode {
	case "slow", "":
		c.slow.Store(mode == "slow")
		return os.Getpid(), nil
	}
	return 0, fmt.Errorf("fault %q: want \"slow\" or \"\"", mode)
}

func (c *calc) Host(context.Context) (string, error) { return os.Hostname() }

// Shutdown logs "shutdown" at debug level, so tests see the order of
// shutdowns.
func (c *calc) Shutdown(ctx context.Context) error {
	c.Logger(ctx).Debug("shutdown")
	return nil
}

// Front depends on Calc, so tests see calls between components.
type Front interface {
	HalfViaCalc(ctx context.Context, n int) (int, error)
	// Total sums amounts with money.Sum, or fails with an error wrapping
	// money.ErrCurrencyMismatch, declared in a package without components.
	Total(ctx context.Context, amounts []money.Amount) (money.Amount, error)
	// HostsViaCalc returns the host names of the front and of the Calc
	// replica it called, in that order.
	HostsViaCalc(ctx context.Context) ([]string, error)
}

type front struct {
	pilotage.Implements[Front]
	calc pilotage.Ref[Calc]
}

func (f *front) HalfViaCalc(ctx context.Context, n int) (int, error) {
	return f.calc.Get().Half(ctx, n)
}

// Shutdown logs "shutdown" at debug level, as calc's does.
func (f *front) Shutdown(ctx context.Context) error {
	f.Logger(ctx).Debug("shutdown")
	return nil
}

func (f *front) HostsViaCalc(ctx context.Context) ([]string, error) {
	self, err := os.Hostname()
	if err != nil {
		return nil, err
	}
	calc, err := f.calc.Get().Host(ctx)
	if err != nil {
		return nil, err
	}
	return []string{self, calc}, nil
}

func (f *front) Total(_ context.Context, amounts []money.Amount) (money.Amount, error) {
	return money.Sum(amounts)
}

// Web has a listener and a config; Init fails when told to.
type Web interface {
	Addr(ctx context.Context) (string, error)
}

type webConfig struct {
	FailInit bool `toml:"fail_init"`
}

type web struct {
	pilotage.Implements[Web]
	pilotage.WithConfig[webConfig]
	site pilotage.Listener
}

func (w *web) Init(context.Context) error {
	if w.Config().FailInit {
		return errors.New("told to fail")
	}
	return nil
}

func (w *web) Addr(context.Context) (string, error) { return w.site.Addr().String(), nil }
