// Package pilotage is the programming model for applications that run in one
// process, as several processes on one machine, or on Kubernetes, from the
// same code.
//
// A component is a Go interface plus one struct that implements it by
// embedding [Implements]. Components call each other through [Ref] fields;
// "pilotage generate" writes the stubs that make such a call a plain function
// call when both sides share a process, and an encoded message over a
// connection when they do not.
//
//	type Adder interface {
//		Add(ctx context.Context, a, b int) (int, error)
//	}
//
//	type adder struct {
//		pilotage.Implements[Adder]
//	}
//
//	func (*adder) Add(_ context.Context, a, b int) (int, error) { return a + b, nil }
//
// Every component method takes a context.Context first and returns an error
// last; its other parameters and results must be serializable (see
// "pilotage generate -h").
package pilotage

import (
	"context"
	"log/slog"
	"net"
	"reflect"

	"github.com/pilotage/pilotage/codegen"
	"github.com/pilotage/pilotage/internal/telemetry"
)

// Main is the interface of the root component, the one [Run] starts with.
// Implement it with a struct that embeds Implements[Main].
type Main interface{}

// Implements marks a struct as the implementation of component interface T.
// Embed it as the struct's first field.
type Implements[T any] struct {
	state *componentState
}

type componentState struct {
	name   string
	logger *slog.Logger
}

// Logger returns a logger whose records name this component and, when ctx
// belongs to a trace (a call being served, an HTTP request on a
// component's listener, a span of the component's own), carry its
// trace_id and span_id, so that "pilotage logs --trace ID" finds them.
func (i Implements[T]) Logger(ctx context.Context) *slog.Logger {
	l := slog.Default()
	if i.state != nil && i.state.logger != nil {
		l = i.state.logger
	}
	if sc := telemetry.SpanContext(ctx); sc.IsValid() {
		return l.With("trace_id", sc.TraceID().String(), "span_id", sc.SpanID().String())
	}
	return l
}

func (Implements[T]) implements(T) {}

func (i *Implements[T]) setState(s *componentState) { i.state = s }

func (*Implements[T]) filledByRuntime() {}
func (*Ref[T]) filledByRuntime()        {}
func (*Listener) filledByRuntime()      {}
func (*WithConfig[T]) filledByRuntime() {}

// InstanceOf is satisfied by a pointer to any struct that embeds Implements[T].
type InstanceOf[T any] interface {
	implements(T)
}

// Ref is a dependency on component T. The runtime fills Ref fields before
// Init runs; a Ref to a component forms an edge of the start order: T is ready
// before the component holding the Ref starts.
type Ref[T any] struct {
	value T
}

// Get returns the component. Calls on it are direct calls when T runs in the
// same process and remote calls otherwise.
func (r Ref[T]) Get() T { return r.value }

func (r *Ref[T]) setRef(v any) { r.value = v.(T) }

func (*Ref[T]) refType() reflect.Type { return reflect.TypeFor[T]() }

// Listener is a network listener that the runtime opens for a component.
// Declare it as a field; its name is the field name in lower case, or the
// value of a `pilotage:"name"` tag. Names are unique within an application.
type Listener struct {
	net.Listener
	name string
}

// Name returns the listener's name.
func (l Listener) Name() string { return l.name }

func (l *Listener) setListener(name string, nl net.Listener) { l.name, l.Listener = name, nl }

// WithConfig gives a component a typed configuration, decoded strictly (an
// unknown key is an error) from the component's section of the config file.
// Embed it next to Implements.
type WithConfig[T any] struct {
	config T
}

// Config returns the decoded configuration.
func (w *WithConfig[T]) Config() *T { return &w.config }

func (w *WithConfig[T]) configPtr() any { return &w.config }

// Idempotent marks a method as safe to run more than once, allowing the
// runtime to retry it (a capped number of times) when a replica fails:
//
//	var _ pilotage.Idempotent = Catalog.Get
//
// Other methods are never retried once they may have reached the callee.
type Idempotent any

// Errors reported by the runtime. They survive process boundaries, so
// errors.Is works on them wherever a call fails.
var (
	// ErrUnavailable means a call was not delivered: the component is stopped
	// or has no ready replica. The runtime has already tried the other
	// replicas. Errors keep their identity across processes, so an error a
	// method returned may also wrap ErrUnavailable, from a call that method
	// made: "not delivered" holds for the innermost call only, and retrying
	// a non-idempotent method on this error can run it twice.
	ErrUnavailable = codegen.ErrUnavailable
	// ErrInterrupted means a call was sent but no reply came back; the method
	// may or may not have run.
	ErrInterrupted = codegen.ErrInterrupted
	// ErrPanic means the method panicked. The error message holds the panic
	// value and the callee's stack.
	ErrPanic = codegen.ErrPanic
	// ErrOverloaded means a replica of the callee was over its limit of
	// calls in flight ([calls] max_in_flight in pilotage.toml, adaptive by
	// default) and refused the call without running it. The runtime has
	// already tried other replicas (within the retry budget); such an error
	// also wraps ErrUnavailable.
	ErrOverloaded = codegen.ErrOverloaded
	// ErrCircuitOpen means every replica of the callee kept failing or
	// timing out, so the caller's runtime ejected them all and fails calls
	// at once, without sending them, until a probe call succeeds. Such an
	// error also wraps ErrUnavailable.
	ErrCircuitOpen = codegen.ErrCircuitOpen
)
