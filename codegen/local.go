package codegen

import (
	"context"
	"sync/atomic"
)

// A LocalTracer traces the calls between colocated components, which the
// local stubs make as direct method calls: StartLocal is called as one
// begins and returns the context the callee runs under and what to call
// with the call's error when it ends.
type LocalTracer interface {
	StartLocal(ctx context.Context, component, method string) (context.Context, func(error))
}

var localTracer atomic.Pointer[LocalTracer]

// SetLocalTracer makes t (nil: none) trace the local stubs' calls. The
// runtime sets one while it records traces.
func SetLocalTracer(t LocalTracer) {
	if t == nil {
		localTracer.Store(nil)
		return
	}
	localTracer.Store(&t)
}

// StartLocal begins a local stub's call of method of component (its full
// name): through the LocalTracer if one is set, else it returns ctx and a
// func that does nothing, at the cost of an atomic load.
func StartLocal(ctx context.Context, component, method string) (context.Context, func(error)) {
	if t := localTracer.Load(); t != nil {
		return (*t).StartLocal(ctx, component, method)
	}
	return ctx, endNothing
}

func endNothing(error) {}
