// Package host creates and wires the components of one process: it builds
// each implementation, fills its Refs, listeners and config, runs Init in
// dependency order and Shutdown in reverse, and hands callers the stub that
// fits where the callee runs (a direct local stub, or a client stub over the
// RPC transport).
package host

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"maps"
	"net"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/pilotage/pilotage/codegen"
	"github.com/pilotage/pilotage/internal/config"
)

// Mode says how calls between components in this process are made.
type Mode int

const (
	// Local calls are direct method calls.
	Local Mode = iota
	// RPC calls are encoded and sent over a real connection to this same
	// process, exercising the path calls between processes take.
	RPC
	// Multi hosts only Options.Hosted; calls to other components go through
	// Options.Remote. Used by processes that "pilotage run" starts.
	Multi
)

// Fields are the runtime-filled parts of an implementation struct, found by
// the root package (which owns the unexported setters).
type Fields struct {
	SetState  func(name string, logger *slog.Logger)
	Refs      []RefField
	Listeners []ListenerField
	Config    any // pointer to the WithConfig value, or nil
}

// RefField is a pilotage.Ref[T] field.
type RefField struct {
	Interface reflect.Type
	Set       func(component any)
}

// ListenerField is a pilotage.Listener field.
type ListenerField struct {
	Name string
	Set  func(net.Listener)
}

// Inspect finds the Fields of an implementation (a pointer to its struct).
// The root package sets it in its init function; every application imports
// the root package, since its components embed pilotage.Implements.
var Inspect func(impl any) (Fields, error)

// Options configure a Host.
type Options struct {
	Mode   Mode
	Config *config.File // nil means no configuration
	Fakes  map[reflect.Type]any
	Logger *slog.Logger // base logger; records get a "component" attribute
	// OnListen is told the address of each listener opened.
	OnListen func(name string, addr net.Addr)
	// ListenerAddress overrides the configured address of a listener.
	ListenerAddress func(name string) string
	// OnStarting and OnReady are told when a component's start begins
	// (its dependencies are ready) and when its Init has returned nil.
	OnStarting, OnReady func(component string)

	// InjectRetries (RPC mode only) runs every call to a method declared
	// pilotage.Idempotent twice, dropping the first reply as if it were
	// lost, the retry pilotage run may make. A method wrongly declared
	// idempotent then shows its double effect in the app's own tests.
	InjectRetries bool

	// Multi mode only.
	Hosted map[string]bool                                      // full names of the components run here
	Remote func(c codegen.Component) codegen.Caller             // reaches a component run elsewhere
	Serve  func(c codegen.Component, h []codegen.Handler) error // exposes a hosted component to other processes
	// WrapListener, if set, wraps each listener before its component gets
	// it (the runtime's telemetry follows its HTTP requests).
	WrapListener func(name string, l net.Listener) net.Listener
}

// Host holds the components of one process.
type Host struct {
	opts       Options
	components map[reflect.Type]codegen.Component

	mu        sync.Mutex
	instances map[reflect.Type]*instance
	started   []*instance // in Init order
	listeners map[string]net.Listener
	transport *loopback // RPC mode only
}

type instance struct {
	comp      codegen.Component
	impl      any // pointer to the implementation struct
	stub      any // what callers get
	ready     bool
	listeners []string // names of the listeners opened for it
}

// New returns a Host for the registered components, once the configuration
// passed CheckConfig: nothing starts with a configuration that is wrong.
func New(opts Options) (*Host, error) {
	comps, err := codegen.Components()
	if err != nil {
		return nil, err
	}
	if opts.Config == nil {
		opts.Config = config.Empty()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	h := &Host{opts: opts, components: map[reflect.Type]codegen.Component{}, instances: map[reflect.Type]*instance{}, listeners: map[string]net.Listener{}}
	for _, c := range comps {
		h.components[c.Type] = c
	}
	if err := checkConfig(opts.Config, comps); err != nil {
		return nil, err
	}
	if opts.Mode == RPC {
		if h.transport, err = newLoopback(opts.InjectRetries); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// Get returns the value callers of component iface use: a fake if one was
// given, else a stub for the (started) implementation.
func (h *Host) Get(ctx context.Context, iface reflect.Type) (any, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stub(ctx, iface, nil)
}

// stub returns what callers of iface get, starting it if it runs here.
func (h *Host) stub(ctx context.Context, iface reflect.Type, path []string) (any, error) {
	if fake, ok := h.opts.Fakes[iface]; ok {
		return fake, nil
	}
	if h.opts.Mode == Multi {
		if comp, ok := h.components[iface]; ok && !h.opts.Hosted[comp.Name] {
			return comp.ClientStub(h.opts.Remote(comp)), nil
		}
	}
	inst, err := h.start(ctx, iface, path)
	if err != nil {
		return nil, err
	}
	return inst.stub, nil
}

// Instance returns the implementation struct (a pointer) of component iface,
// starting it if needed.
func (h *Host) Instance(ctx context.Context, iface reflect.Type) (any, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	inst, err := h.start(ctx, iface, nil)
	if err != nil {
		return nil, err
	}
	return inst.impl, nil
}

// start builds and initializes the component and, first, its dependencies.
// path holds the components being started above this one, to report cycles.
func (h *Host) start(ctx context.Context, iface reflect.Type, path []string) (*instance, error) {
	if inst, ok := h.instances[iface]; ok {
		if !inst.ready {
			return nil, fmt.Errorf("dependency cycle: %s -> %s", strings.Join(path, " -> "), inst.comp.Name)
		}
		return inst, nil
	}
	comp, ok := h.components[iface]
	if !ok {
		return nil, fmt.Errorf("component %v has no registered implementation: run \"pilotage generate\" and make sure the implementation's package is imported", iface)
	}
	inst := &instance{comp: comp, impl: reflect.New(comp.Impl.Type).Interface()}
	h.instances[iface] = inst
	path = append(path, comp.Name)
	if err := h.build(ctx, inst, path); err != nil {
		// A later attempt starts afresh.
		delete(h.instances, iface)
		for _, name := range inst.listeners {
			h.listeners[name].Close()
			delete(h.listeners, name)
		}
		return nil, err
	}
	inst.ready = true
	h.started = append(h.started, inst)
	return inst, nil
}

// build fills inst's fields, starting its dependencies, and runs its Init.
func (h *Host) build(ctx context.Context, inst *instance, path []string) error {
	comp := inst.comp

	fields, err := Inspect(inst.impl)
	if err != nil {
		return fmt.Errorf("component %s: %w", comp.Name, err)
	}
	fields.SetState(comp.Name, h.opts.Logger.With("component", shortName(comp.Name)))
	if fields.Config != nil {
		if err := h.opts.Config.DecodeComponent(comp.Name, fields.Config); err != nil {
			return err
		}
	}
	for _, ref := range fields.Refs {
		dep, err := h.stub(ctx, ref.Interface, path)
		if err != nil {
			return err
		}
		ref.Set(dep)
	}
	if h.opts.OnStarting != nil {
		h.opts.OnStarting(comp.Name)
	}
	for _, lf := range fields.Listeners {
		l, err := h.listen(lf.Name)
		if err != nil {
			return fmt.Errorf("component %s: %w", comp.Name, err)
		}
		inst.listeners = append(inst.listeners, lf.Name)
		if h.opts.WrapListener != nil {
			l = h.opts.WrapListener(lf.Name, l)
		}
		lf.Set(l)
	}
	if i, ok := inst.impl.(interface{ Init(context.Context) error }); ok {
		if err := i.Init(ctx); err != nil {
			return fmt.Errorf("init %s: %w", comp.Name, err)
		}
	}
	if h.opts.OnReady != nil {
		h.opts.OnReady(comp.Name)
	}
	switch {
	case comp.ServerStub == nil: // Main: nothing to serve
	case h.transport != nil:
		inst.stub, err = h.transport.serve(comp, inst.impl)
		return err
	case h.opts.Serve != nil:
		if err := h.opts.Serve(comp, comp.ServerStub(inst.impl)); err != nil {
			return fmt.Errorf("serve %s: %w", comp.Name, err)
		}
	}
	inst.stub = comp.Impl.LocalStub(inst.impl)
	return nil
}

func (h *Host) listen(name string) (net.Listener, error) {
	if _, dup := h.listeners[name]; dup {
		return nil, fmt.Errorf("listener %q declared twice: listener names must be unique in an application", name)
	}
	addr := h.opts.Config.Listeners[name].Address
	if h.opts.ListenerAddress != nil {
		addr = h.opts.ListenerAddress(name)
	}
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listener %q: %w", name, err)
	}
	h.listeners[name] = l
	if h.opts.OnListen != nil {
		h.opts.OnListen(name, l.Addr())
	}
	return l, nil
}

// StartAll starts every hosted component (Multi mode), dependencies first.
func (h *Host) StartAll(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for iface, c := range h.sortedComponents() {
		if h.opts.Hosted[c.Name] {
			if _, err := h.start(ctx, iface, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// Health runs the Health method of every started component that has one and
// returns the first failure.
func (h *Host) Health(ctx context.Context) error {
	h.mu.Lock()
	started := append([]*instance(nil), h.started...)
	h.mu.Unlock()
	for _, inst := range started {
		if c, ok := inst.impl.(interface{ Health(context.Context) error }); ok {
			if err := c.Health(ctx); err != nil {
				return fmt.Errorf("%s unhealthy: %w", inst.comp.Name, err)
			}
		}
	}
	return nil
}

// InstanceOfImpl is Instance for the component implemented by struct type impl.
func (h *Host) InstanceOfImpl(ctx context.Context, impl reflect.Type) (any, error) {
	for iface, c := range h.components {
		if c.Impl.Type == impl {
			return h.Instance(ctx, iface)
		}
	}
	return nil, fmt.Errorf("%v implements no registered component", impl)
}

// Shutdown calls Shutdown on every started component, dependents first, then
// closes listeners and the transport. It returns every error met.
func (h *Host) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	for i := len(h.started) - 1; i >= 0; i-- {
		inst := h.started[i]
		if s, ok := inst.impl.(interface{ Shutdown(context.Context) error }); ok {
			if err := s.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("shutdown %s: %w", inst.comp.Name, err))
			}
		}
	}
	h.started = nil
	for name, l := range h.listeners {
		if err := l.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("close listener %q: %w", name, err))
		}
	}
	if h.transport != nil {
		if err := h.transport.close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// shortName turns "example.com/shop/cart.Cart" into "cart.Cart".
func shortName(full string) string { return full[strings.LastIndex(full, "/")+1:] }

// sortedComponents yields the registered components by name, so starts are
// deterministic.
func (h *Host) sortedComponents() iter.Seq2[reflect.Type, codegen.Component] {
	return func(yield func(reflect.Type, codegen.Component) bool) {
		types := slices.Collect(maps.Keys(h.components))
		slices.SortFunc(types, func(a, b reflect.Type) int { return strings.Compare(h.components[a].Name, h.components[b].Name) })
		for _, t := range types {
			if !yield(t, h.components[t]) {
				return
			}
		}
	}
}
