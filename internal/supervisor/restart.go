package supervisor

import (
	"fmt"
	"time"

	"github.com/pilotage/pilotage/internal/control"
)

// Backoff between restarts of one replica: the first restart is immediate,
// then the delay starts at backoffMin and doubles up to backoffMax. A
// replica that ran for stableAfter resets it.
const (
	backoffMin  = 100 * time.Millisecond
	backoffMax  = 5 * time.Second
	stableAfter = 10 * time.Second
)

// backoff returns the delay before restart number failures+1 of a replica.
func backoff(failures int) time.Duration {
	if failures <= 0 {
		return 0
	}
	d := backoffMin
	for i := 1; i < failures && d < backoffMax; i++ {
		d *= 2
	}
	return min(d, backoffMax)
}

// restartSlot schedules the restart of sl after an unexpected end (why),
// unless the node is past its start limit, which marks it failed. s.mu is
// held.
func (s *Supervisor) restartSlot(sl *slot, why string, uptime time.Duration) {
	n := sl.node
	n.lastErr = why
	sl.why = why
	if s.shutting || !n.want || n.failed || !n.launched {
		if sl.state != control.Failed {
			sl.state = control.Stopped
		}
		return
	}
	if uptime >= stableAfter {
		sl.failures = 0
	}
	now := time.Now()
	kept := n.window[:0]
	for _, t := range n.window {
		if now.Sub(t) < s.startInterval {
			kept = append(kept, t)
		}
	}
	n.window = kept
	if len(n.window) >= s.startLimit {
		s.failNode(n, fmt.Sprintf("%s; start limit hit: %d restarts within %s", why, len(n.window), s.startInterval))
		return
	}
	n.window = append(n.window, now)
	n.restarts++
	sl.restarts++
	delay := backoff(sl.failures)
	sl.failures++
	sl.state = control.Restarting
	after := ""
	if delay > 0 {
		after = " in " + delay.String()
	}
	s.out.logf("%s %s; restarting%s (restart %d of %s)", sl.source(), why, after, n.restarts, n.Name)
	var timer *time.Timer
	timer = time.AfterFunc(delay, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		// A timer stopped too late, or replaced, must not start anything.
		if sl.timer != timer || sl.state != control.Restarting || sl.p != nil || !n.want || n.failed || s.shutting {
			return
		}
		s.spawnSlot(sl)
		s.reconcile()
	})
	sl.timer = timer
	if !n.hasReady() {
		// The whole component is down: PartOf= applies. A replica that
		// crashes while others serve does not take dependents down.
		s.restartDependents(n)
	}
}

// failNode marks n failed after its start limit: it stays down until a
// start.
func (s *Supervisor) failNode(n *node, why string) {
	n.failed = true
	n.launched = false // a start launches it afresh
	n.why = why
	s.out.logf("%s %s failed: %s", n.kind(), n.Name, why)
	for _, sl := range n.slots {
		sl.cancelRestart()
		if sl.p != nil {
			s.stopProc(sl.p, "")
		}
		sl.state = control.Failed
	}
}

// cancelRestart cancels sl's pending restart, if any.
func (sl *slot) cancelRestart() {
	if sl.timer != nil {
		sl.timer.Stop()
		sl.timer = nil
	}
}
