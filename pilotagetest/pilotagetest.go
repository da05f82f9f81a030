// Package pilotagetest runs tests against a pilotage application in one
// process, either with direct calls between components (Local) or with every
// call encoded, sent over a real connection and decoded (RPC), the path calls
// between processes take. The same test should pass under both; where it
// cannot, the difference is one a deployed application would show too (see
// the package's divergence tests).
//
// RPC also injects a retry: every call to a method declared idempotent
// (var _ pilotage.Idempotent = I.M) runs twice, the first reply dropped as
// if it were lost on the way back, and the caller gets the second. Under
// "pilotage run" that retry happens when a replica fails mid-call; here it
// happens on every call, so a method that is not safe to run twice (it
// appends, charges, increments) fails the app's own tests instead of
// misbehaving once deployed. Other methods run once per call, as in Local
// mode. Set Runner.InjectRetries to false to turn it off.
//
//	func TestCheckout(t *testing.T) {
//		for _, r := range pilotagetest.AllRunners() {
//			r.Test(t, func(t *testing.T, c checkout.Checkout) {
//				if _, err := c.PlaceOrder(ctx, "alice"); err != nil {
//					t.Fatal(err)
//				}
//			})
//		}
//	}
package pilotagetest

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pilotage/pilotage/internal/config"
	"github.com/pilotage/pilotage/internal/host"
)

// A Runner runs test bodies against freshly started components.
type Runner struct {
	// Name names the runner's subtest ("Local", "RPC").
	Name string
	// Config is the text of a pilotage.toml used for the test, if any.
	Config string
	// Fakes replace components: callers get the fake instead of a stub.
	Fakes []FakeComponent
	// InjectRetries, in RPC mode, makes every call to a method declared
	// pilotage.Idempotent run twice: the first reply is dropped as if lost
	// and the call retried, so a method wrongly declared idempotent shows
	// its double effect. RPC sets it; Local mode ignores it, and so does
	// Bench, which measures one run of each call.
	InjectRetries bool

	mode host.Mode
}

// Local calls components directly.
var Local = Runner{Name: "Local", mode: host.Local}

// RPC sends every call between components, and from the test body, through
// the codec and the transport over a Unix socket, and runs each call to an
// idempotent method twice (see InjectRetries).
var RPC = Runner{Name: "RPC", mode: host.RPC, InjectRetries: true}

// AllRunners returns Local and RPC.
func AllRunners() []Runner { return []Runner{Local, RPC} }

// FakeComponent is a fake implementation of a component; see Fake.
type FakeComponent struct {
	iface reflect.Type
	impl  any
}

// Fake returns a fake for component T: every caller of T, in every mode,
// gets impl itself.
func Fake[T any](impl T) FakeComponent {
	return FakeComponent{iface: reflect.TypeFor[T](), impl: impl}
}

// Test runs body as a subtest named after the runner. body is a function
// whose first parameter is *testing.T and whose other parameters are
// component interfaces (the test calls them like any other caller would) or
// pointers to implementation structs (direct access to the instance, for
// assertions on its state). Components are shut down when the subtest ends.
func (r Runner) Test(t *testing.T, body any) {
	t.Helper()
	t.Run(r.Name, func(t *testing.T) {
		t.Helper()
		args, err := r.start(t, reflect.TypeFor[*testing.T](), body)
		if err != nil {
			t.Fatal(err)
		}
		args[0] = reflect.ValueOf(t)
		reflect.ValueOf(body).Call(args)
	})
}

// Bench runs body as a sub-benchmark, like Test with *testing.B, without
// injected retries.
func (r Runner) Bench(b *testing.B, body any) {
	b.Helper()
	r.InjectRetries = false
	b.Run(r.Name, func(b *testing.B) {
		args, err := r.start(b, reflect.TypeFor[*testing.B](), body)
		if err != nil {
			b.Fatal(err)
		}
		args[0] = reflect.ValueOf(b)
		b.ResetTimer()
		reflect.ValueOf(body).Call(args)
	})
}

// start checks body's signature, starts the components it asks for and
// returns its arguments (the first left for the caller to fill).
func (r Runner) start(tb testing.TB, first reflect.Type, body any) ([]reflect.Value, error) {
	fn := reflect.TypeOf(body)
	if fn == nil || fn.Kind() != reflect.Func || fn.NumIn() == 0 || fn.In(0) != first || fn.NumOut() != 0 {
		return nil, fmt.Errorf("pilotagetest: body must be a func(%v, components...) with no results, got %T", first, body)
	}
	if err := checkGenerated(); err != nil {
		return nil, err
	}
	cfg := config.Empty()
	if r.Config != "" {
		var err error
		if cfg, err = config.Parse("Runner.Config", r.Config); err != nil {
			return nil, err
		}
	}
	fakes := map[reflect.Type]any{}
	for _, f := range r.Fakes {
		fakes[f.iface] = f.impl
	}
	logs := &testWriter{tb: tb}
	h, err := host.New(host.Options{
		Mode:          r.mode,
		Config:        cfg,
		Fakes:         fakes,
		Logger:        slog.New(slog.NewTextHandler(logs, nil)),
		InjectRetries: r.InjectRetries,
	})
	if err != nil {
		return nil, err
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.Shutdown(ctx); err != nil {
			tb.Error(err)
		}
		logs.close()
	})
	ctx := context.Background()
	args := make([]reflect.Value, fn.NumIn())
	for i := 1; i < fn.NumIn(); i++ {
		var v any
		switch p := fn.In(i); {
		case p.Kind() == reflect.Interface:
			v, err = h.Get(ctx, p)
		case p.Kind() == reflect.Pointer && p.Elem().Kind() == reflect.Struct:
			v, err = h.InstanceOfImpl(ctx, p.Elem())
		default:
			err = fmt.Errorf("pilotagetest: parameter %d of body has type %v; want a component interface or a pointer to an implementation", i, p)
		}
		if err != nil {
			return nil, err
		}
		args[i] = reflect.ValueOf(v)
	}
	return args, nil
}

// testWriter sends component logs to the test log, so they show on failure.
// Logging to a finished test panics, so it goes quiet once the test ends.
type testWriter struct {
	mu   sync.Mutex
	tb   testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.tb.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
}
