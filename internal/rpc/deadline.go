package rpc

import (
	"context"
	"time"
)

// Enforcing a caller's deadline on the server with a context.WithTimeout
// per call costs a timer per call (three allocations, and a timer heap
// operation to arm and another to stop), although nearly every call ends
// long before its deadline: the default deadline is 30 s. So calls whose
// deadlines fall within deadlineGrain of each other share one deadline
// context, and each call is a plain context.WithCancel child of it. The
// contexts are the standard library's, so handlers and the contexts they
// derive see exactly what a WithTimeout gives (Err and Cause are
// DeadlineExceeded once it passes, for children too); the deadline a
// handler sees is at most deadlineGrain later than the caller's.
const (
	deadlineGrain = time.Millisecond
	// minShared is the shortest deadline that shares: a shorter one would
	// be moved by more than 1 % of itself.
	minShared = 100 * deadlineGrain
)

// A deadlineGroup is a deadline context shared by the calls whose deadlines
// fall within (end-deadlineGrain, end].
type deadlineGroup struct {
	ctx    context.Context
	cancel context.CancelFunc
	end    time.Time
	calls  int // calls in flight under it
}

// callContext returns the context of a call with the caller's deadline d
// (zero if none), and the group it joined, if any. A call whose deadline
// no group takes gets a context.WithDeadline of its own and opens a group
// for the calls after it, which is made when the first of them joins:
// calls that come one at a time cost what a WithDeadline costs. Called
// with sc.mu held.
func (sc *serverConn) callContext(d time.Time, budget time.Duration) (context.Context, context.CancelFunc, *deadlineGroup) {
	g := sc.deadlines
	switch {
	case d.IsZero():
		ctx, cancel := context.WithCancel(sc.ctx)
		return ctx, cancel, nil
	case budget < minShared:
		ctx, cancel := context.WithDeadline(sc.ctx, d)
		return ctx, cancel, nil
	case g == nil || d.After(g.end) || g.end.Sub(d) >= deadlineGrain:
		if g != nil && g.calls == 0 && g.ctx != nil {
			g.cancel() // stops its timer
		}
		sc.deadlines = &deadlineGroup{end: d.Add(deadlineGrain - 1)}
		ctx, cancel := context.WithDeadline(sc.ctx, d)
		return ctx, cancel, nil
	}
	if g.ctx == nil {
		g.ctx, g.cancel = context.WithDeadline(sc.ctx, g.end)
	}
	g.calls++
	ctx, cancel := context.WithCancel(g.ctx)
	return ctx, cancel, g
}

// leave ends a call's membership of g: the last call out of a group that
// no longer takes new ones stops its timer. Called with sc.mu held.
func (sc *serverConn) leave(g *deadlineGroup) {
	if g == nil {
		return
	}
	g.calls--
	if g.calls == 0 && g != sc.deadlines {
		g.cancel()
	}
}
