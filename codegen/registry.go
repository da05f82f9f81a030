package codegen

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"sync"
)

// Interface describes a component interface. Generated code registers one for
// every component interface, in the interface's package.
type Interface struct {
	Name    string       // full name: "import/path.Interface"
	Type    reflect.Type // the interface type
	Methods []Method     // in declaration order; a call names a method by index

	// ClientStub returns a value implementing the interface whose methods
	// encode their arguments and send them through c.
	ClientStub func(c Caller) any
	// ServerStub returns the handlers serving calls into impl (which
	// implements the interface), indexed like Methods.
	ServerStub func(impl any) []Handler
	// JSON returns the handlers serving JSON calls into impl (which
	// implements the interface), for operators' tools, indexed like
	// Methods. Nil in code generated before it, and for Main.
	JSON func(impl any) []JSONHandler
}

// Method describes one method of a component interface.
type Method struct {
	Name       string
	Idempotent bool // declared with "var _ pilotage.Idempotent = I.Method": safe to retry
}

// Implementation describes the struct implementing a component. Generated code
// registers it in the implementation's package.
type Implementation struct {
	Interface reflect.Type // the component interface
	Type      reflect.Type // the implementing struct (not a pointer)
	// Refs are the full names of the interfaces this implementation holds a
	// pilotage.Ref to, as seen by the generator.
	Refs []string
	// Graph describes the component for the pilotage tool, which finds it
	// by scanning the binary's bytes (see "pilotage generate"); it is kept
	// here so that the linker keeps it. Empty in code generated before it.
	Graph string
	// LocalStub wraps impl (a pointer to Type) in a value implementing the
	// interface that calls impl directly, turning panics into errors.
	LocalStub func(impl any) any
}

// A Caller sends encoded calls for one component. Implemented by the runtime.
type Caller interface {
	// Call invokes method number m with encoded args and returns the encoded
	// results. args may be reused by the caller once Call returns. The
	// results belong to the caller: generated code decodes them with
	// Decoder.ResetOwned, so its values may alias them, and an
	// implementation must never modify or reuse results of MinAliased bytes
	// or more once returned.
	Call(ctx context.Context, m int, args []byte) ([]byte, error)
}

// A Handler serves one method: it decodes args, calls the implementation and
// encodes the results (the method's error included) into out. A non-nil
// returned error means the call itself failed (bad input, a panic).
//
// args belong to the handler: generated code decodes them with
// Decoder.ResetOwned, so the implementation may keep values that alias
// them after it returns, and whoever runs a handler must never modify or
// reuse args of MinAliased bytes or more (shorter ones are always copied
// from, so they may be reused once the handler returned).
type Handler func(ctx context.Context, args []byte, out *Encoder) error

var registry = struct {
	sync.Mutex
	ifaces map[reflect.Type]*Interface
	impls  map[reflect.Type][]*Implementation
	errs   []error
}{ifaces: map[reflect.Type]*Interface{}, impls: map[reflect.Type][]*Implementation{}}

// RegisterInterface records a component interface. Called from generated init functions.
func RegisterInterface(i Interface) {
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.ifaces[i.Type]; dup {
		registry.errs = append(registry.errs, fmt.Errorf("component interface %s registered twice", i.Name))
		return
	}
	registry.ifaces[i.Type] = &i
}

// recordProblem keeps a registration problem for Components to report.
// Registration runs in init functions, which cannot return errors, so a
// problem stops the application when the runtime starts it.
func recordProblem(err error) {
	registry.Lock()
	defer registry.Unlock()
	registry.errs = append(registry.errs, err)
}

// RegisterImplementation records a component implementation. Called from
// generated init functions.
func RegisterImplementation(impl Implementation) {
	registry.Lock()
	defer registry.Unlock()
	registry.impls[impl.Interface] = append(registry.impls[impl.Interface], &impl)
}

// Component is a registered interface joined with its implementation.
type Component struct {
	*Interface
	Impl *Implementation
}

// Components returns every registered component, sorted by name. It reports
// interfaces without exactly one implementation, implementations whose
// interface has no generated code, and registration problems (an interface
// or an error key registered twice).
func Components() ([]Component, error) {
	registry.Lock()
	defer registry.Unlock()
	if len(registry.errs) > 0 {
		return nil, registry.errs[0]
	}
	var out []Component
	for t, i := range registry.ifaces {
		impls := registry.impls[t]
		switch len(impls) {
		case 0:
			continue // interface only; an implementation may come from a fake
		case 1:
			out = append(out, Component{Interface: i, Impl: impls[0]})
		default:
			return nil, fmt.Errorf("component %s has %d implementations (%s, %s): keep one", i.Name, len(impls), impls[0].Type, impls[1].Type)
		}
	}
	for t, impls := range registry.impls {
		if _, ok := registry.ifaces[t]; !ok {
			return nil, fmt.Errorf("component %s (implemented by %s) has no generated code in its interface's package: run \"pilotage generate\"", t, impls[0].Type)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out, nil
}

// Find returns the registered interface of type t.
func Find(t reflect.Type) (*Interface, bool) {
	registry.Lock()
	defer registry.Unlock()
	i, ok := registry.ifaces[t]
	return i, ok
}
