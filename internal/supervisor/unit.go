package supervisor

import (
	"context"
	"fmt"
	"time"

	"github.com/pilotage/pilotage/internal/config"
	"github.com/pilotage/pilotage/internal/probe"
)

// Readiness probe defaults of a unit.
const (
	probeInterval = 200 * time.Millisecond
	probeTimeout  = 60 * time.Second
)

// checkProbe runs one readiness check; tests may replace it.
var checkProbe = probe.Check

// watchUnit probes p until its unit is ready: then marks it ready; on
// timeout, restarts it as failed. A unit without a probe is ready once
// started. s.mu is held.
func (s *Supervisor) watchUnit(p *proc) {
	pr := p.slot.node.Unit.Ready
	if pr.TCP == "" && pr.HTTP == "" && len(pr.Exec) == 0 {
		go func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if p.slot.p == p {
				s.markReady(p)
			}
		}()
		return
	}
	interval, timeout := pr.Interval.Duration, pr.Timeout.Duration
	if interval <= 0 {
		interval = probeInterval
	}
	if timeout <= 0 {
		timeout = probeTimeout
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		defer cancel()
		deadline := time.Now().Add(timeout)
		for {
			err := check(ctx, pr, interval)
			s.mu.Lock()
			if ctx.Err() != nil || p.slot.p != p {
				s.mu.Unlock()
				return
			}
			if err == nil {
				s.markReady(p)
				s.mu.Unlock()
				return
			}
			why := err.Error() // "probe tcp 127.0.0.1:6390: connection refused"
			p.slot.why, p.slot.node.why = why, why
			if time.Now().After(deadline) {
				s.stopProc(p, fmt.Sprintf("not ready within %s: %s", timeout, why))
				s.mu.Unlock()
				return
			}
			s.reconcile() // dependents waiting on it show the new reason
			s.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-time.After(interval):
			}
		}
	}()
}

func check(ctx context.Context, pr config.Probe, interval time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, max(interval, time.Second))
	defer cancel()
	return checkProbe(ctx, pr)
}
