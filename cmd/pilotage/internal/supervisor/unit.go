package supervisor

import (
	"context"
	"github.com/pilotage/pilotage/internal/config"
	"os"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/probe"
)

// watchUnit probes p until its unit is ready (probe.WaitWith: one loop, one
// default interval and timeout, each attempt with its kind's own limit):
// then marks it ready; on timeout, stops it as failed. An exec probe runs
// in the unit's directory and environment. A unit without a probe is ready
// once started. s.mu is held.
func (s *Supervisor) watchUnit(p *proc) {
	pr := p.slot.node.Unit.Ready
	if !hasProbe(pr) {
		return // ready when the shim reports the program running (spawnUnit)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	opts := probe.Options{
		Dir: p.cmd.Dir,
		Env: append(os.Environ(), p.slot.node.Unit.Env...),
		OnFailure: func(err error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if ctx.Err() != nil || p.slot.p != p {
				return
			}
			why := err.Error() // "probe tcp 127.0.0.1:6390: connection refused"
			p.slot.why, p.slot.node.why = why, why
			s.reconcile() // dependents waiting on it show the new reason
		},
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		defer cancel()
		err := probe.WaitWith(ctx, pr, opts)
		s.mu.Lock()
		defer s.mu.Unlock()
		if ctx.Err() != nil || p.slot.p != p {
			return
		}
		if err == nil {
			s.markReady(p)
			return
		}
		s.stopProc(p, err.Error()) // "not ready after 60s: probe tcp ...: connection refused"
	}()
}

// hasProbe reports whether a readiness probe is configured.
func hasProbe(pr config.Probe) bool { return pr.TCP != "" || pr.HTTP != "" || len(pr.Exec) > 0 }
