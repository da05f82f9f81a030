package rpc

import (
	"context"
	"testing"
	"time"
)

// Calls whose deadlines are close share one deadline context; a group no
// call uses any more is released (its timer stopped) once a newer group
// takes the new calls; a short deadline gets a context of its own, exact.
func TestCallDeadlinesShareGroups(t *testing.T) {
	sc := &serverConn{ctx: context.Background()}
	now := time.Now()
	lock := func(f func()) { sc.mu.Lock(); defer sc.mu.Unlock(); f() }

	var ctxA, ctxB, ctxC context.Context
	var cancelA, cancelB, cancelC context.CancelFunc
	var a, b, c *deadlineGroup
	lock(func() {
		ctxA, cancelA, a = sc.callContext(now.Add(30*time.Second), 30*time.Second)
		ctxB, cancelB, b = sc.callContext(now.Add(30*time.Second+deadlineGrain/2), 30*time.Second)
	})
	if a == nil || a != b {
		t.Fatalf("deadlines %v apart: groups %p and %p, want one", deadlineGrain/2, a, b)
	}
	for name, ctx := range map[string]context.Context{"first": ctxA, "second": ctxB} {
		d, _ := ctx.Deadline()
		if want := now.Add(30 * time.Second); d.Before(want) || d.Sub(want) >= deadlineGrain {
			t.Errorf("%s call's deadline %v after the caller's, want [0, %v)", name, d.Sub(want), deadlineGrain)
		}
	}
	lock(func() { ctxC, cancelC, c = sc.callContext(now.Add(30*time.Second+2*deadlineGrain), 30*time.Second) })
	if c == nil || c == a {
		t.Fatalf("deadlines %v apart share group %p", 2*deadlineGrain, c)
	}
	for _, end := range []struct {
		cancel context.CancelFunc
		g      *deadlineGroup
	}{{cancelA, a}, {cancelB, b}} {
		end.cancel()
		lock(func() { sc.leave(end.g) })
	}
	if a.ctx.Err() == nil {
		t.Error("a group no call uses and no new call joins is still armed")
	}
	if c.ctx.Err() != nil || ctxC.Err() != nil {
		t.Error("the newest group was released while a call uses it")
	}
	cancelC()
	lock(func() { sc.leave(c) })
	if c.ctx.Err() != nil {
		t.Error("the group new calls join was released")
	}

	var short context.Context
	var g *deadlineGroup
	lock(func() { short, _, g = sc.callContext(now.Add(10*time.Millisecond), 10*time.Millisecond) })
	if d, _ := short.Deadline(); g != nil || !d.Equal(now.Add(10*time.Millisecond)) {
		t.Errorf("a 10ms deadline: group %p, deadline %v; want none and exact", g, d.Sub(now))
	}
	<-short.Done()
	if short.Err() != context.DeadlineExceeded {
		t.Errorf("short deadline: %v, want DeadlineExceeded", short.Err())
	}
}
