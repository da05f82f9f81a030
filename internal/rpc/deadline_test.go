package rpc

import (
	"context"
	"testing"
	"time"
)

// A call whose deadline no group takes gets an exact one of its own and
// opens a group; calls whose deadlines are close to it share that group's
// context; a group no call uses any more is released (its timer stopped)
// once a newer one takes the new calls; a short deadline is never shared.
func TestCallDeadlinesShareGroups(t *testing.T) {
	sc := &serverConn{ctx: context.Background()}
	d0 := time.Now().Add(30 * time.Second)
	type call struct {
		ctx    context.Context
		cancel context.CancelFunc
		g      *deadlineGroup
	}
	start := func(d time.Time, budget time.Duration) call {
		sc.mu.Lock()
		defer sc.mu.Unlock()
		var c call
		c.ctx, c.cancel, c.g = sc.callContext(d, budget)
		return c
	}
	end := func(c call) {
		c.cancel()
		sc.mu.Lock()
		defer sc.mu.Unlock()
		sc.leave(c.g)
	}
	deadline := func(c call) time.Time { d, _ := c.ctx.Deadline(); return d }

	a := start(d0, 30*time.Second)
	if a.g != nil || !deadline(a).Equal(d0) {
		t.Errorf("first call: group %p, deadline %v off; want none, exact", a.g, deadline(a).Sub(d0))
	}
	b := start(d0.Add(deadlineGrain/2), 30*time.Second)
	c := start(d0.Add(deadlineGrain*9/10), 30*time.Second)
	if b.g == nil || b.g != c.g {
		t.Fatalf("deadlines within %v of the first: groups %p and %p, want one", deadlineGrain, b.g, c.g)
	}
	for _, x := range []struct {
		c call
		d time.Time
	}{{b, d0.Add(deadlineGrain / 2)}, {c, d0.Add(deadlineGrain * 9 / 10)}} {
		if got := deadline(x.c); got.Before(x.d) || !got.Before(d0.Add(deadlineGrain)) {
			t.Errorf("a shared deadline %v after the caller's %v, want it before %v", got.Sub(x.d), x.d.Sub(d0), deadlineGrain)
		}
	}
	d := start(d0.Add(2*deadlineGrain), 30*time.Second)
	if d.g != nil {
		t.Errorf("a deadline %v after the group's first took group %p", 2*deadlineGrain, d.g)
	}
	end(a)
	end(b)
	if b.g.ctx.Err() != nil {
		t.Error("a group was released while a call uses it")
	}
	end(c)
	if b.g.ctx.Err() == nil {
		t.Error("a group no call uses and no new call joins is still armed")
	}
	e := start(d0.Add(2*deadlineGrain+deadlineGrain/2), 30*time.Second)
	if e.g == nil {
		t.Fatal("the call after a new first one joined no group")
	}
	end(e)
	if e.g.ctx.Err() != nil {
		t.Error("the group new calls join was released")
	}
	end(d)

	now := time.Now()
	short := start(now.Add(10*time.Millisecond), 10*time.Millisecond)
	again := start(now.Add(10*time.Millisecond), 10*time.Millisecond)
	if short.g != nil || again.g != nil || !deadline(again).Equal(now.Add(10*time.Millisecond)) {
		t.Errorf("10ms deadlines: groups %p, %p; want none and exact", short.g, again.g)
	}
	<-short.ctx.Done()
	if short.ctx.Err() != context.DeadlineExceeded {
		t.Errorf("short deadline: %v, want DeadlineExceeded", short.ctx.Err())
	}
}
