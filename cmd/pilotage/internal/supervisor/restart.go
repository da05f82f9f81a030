package supervisor

import (
	"fmt"
	"slices"
	"time"
)

// Backoff between restarts of one replica: the first restart is immediate,
// then the delay starts at backoffMin and doubles up to backoffMax. A
// replica that ran for stableAfter resets it. Past the start limit
// (start_limit restarts within start_interval) the replica is failed and
// tried again after the cool-down (restart_cooldown), for ever: like
// Kubernetes' CrashLoopBackOff, never giving up for good.
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

// restartSlot schedules the restart of sl after an unexpected end (why):
// after its backoff, or, past its start limit, after the cool-down, with
// sl failed meanwhile. Other replicas of the node are left alone. s.mu is
// held.
func (s *Supervisor) restartSlot(sl *slot, why string, uptime time.Duration) {
	n := sl.node
	n.lastErr = why
	sl.why = why
	if s.shutting || !n.want || n.failed || !n.launched {
		if sl.state != stateFailed {
			sl.state = stateStopped
		}
		return
	}
	if uptime >= stableAfter {
		sl.failures = 0
	}
	now := time.Now()
	kept := sl.window[:0]
	for _, t := range sl.window {
		if now.Sub(t) < s.startInterval {
			kept = append(kept, t)
		}
	}
	sl.window = kept
	var delay time.Duration
	if len(sl.window) >= s.startLimit {
		delay = s.cooldown
		sl.window, sl.failures = nil, 0
		sl.state = stateFailed
		sl.why = fmt.Sprintf("%s; start limit hit: %d restarts within %s; trying again in %s", why, s.startLimit, s.startInterval, delay)
		s.out.logf("%s failed: %s", sl.source(), sl.why)
		if nodeState(n) == stateFailed {
			n.why = sl.why
			s.out.logf("%s %s failed: no replica can run; each is tried again after its cool-down", n.kind(), n.Name)
		}
		if n.rollingSlot != nil {
			s.out.logf("restart of %s stopped: %s is failing; the replicas not yet replaced keep running", n.Name, sl.source())
			n.rolling, n.rollingSlot = nil, nil
		}
	} else {
		delay = backoff(sl.failures)
		sl.failures++
		sl.window = append(sl.window, now)
		sl.state = stateRestarting
		after := ""
		if delay > 0 {
			after = " in " + delay.String()
		}
		s.out.logf("%s %s; restarting%s (restart %d of this replica)", sl.source(), why, after, sl.restarts+1)
	}
	s.scheduleSpawn(sl, delay)
	if !n.hasReady() {
		// The whole component is down: PartOf= applies. A replica that
		// crashes while others serve does not take dependents down.
		s.restartDependents(n)
	}
}

// scheduleSpawn starts a new process in sl after delay, counting it as a
// restart. s.mu is held; with no delay, the caller's reconcile starts it.
func (s *Supervisor) scheduleSpawn(sl *slot, delay time.Duration) {
	sl.cancelRestart()
	if delay <= 0 {
		sl.restarts++
		sl.node.restarts++
		sl.pending = true
		return
	}
	var timer *time.Timer
	timer = time.AfterFunc(delay, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		n := sl.node
		// A timer stopped too late, or replaced, must not start anything.
		if sl.timer != timer || sl.p != nil || !n.want || n.failed || s.shutting {
			return
		}
		sl.timer = nil
		sl.restarts++
		n.restarts++
		sl.pending = true
		s.reconcile()
	})
	sl.timer = timer
}

// cancelRestart cancels sl's pending restart, if any.
func (sl *slot) cancelRestart() {
	if sl.timer != nil {
		sl.timer.Stop()
		sl.timer = nil
	}
	sl.pending = false
}

// restartNode restarts n: one replica at a time while others serve (a
// rolling restart), or, if it has one replica or none serving, by stopping
// every replica and starting them again once they exited. With
// restart_dependents, its dependents are restarted too. s.mu is held.
func (s *Supervisor) restartNode(n *node) {
	switch {
	case n.rollingSlot != nil:
		// A rolling restart is under way: replace every other replica
		// after the one being replaced, never two at once.
		n.rolling = slices.DeleteFunc(append([]*slot(nil), n.slots...), func(sl *slot) bool { return sl == n.rollingSlot })
		n.rollingOne = false
	case len(n.slots) > 1 && n.launched && n.hasReady():
		n.rolling = append([]*slot(nil), n.slots...)
		s.rollNext(n)
	default:
		s.takeDown(n)
		s.startNode(n)
	}
	s.restartDependents(n)
}

// rollNext replaces the next replica of n's rolling restart: it is drained
// and stopped, and its replacement starts as soon as it exited (see
// exited); markReady calls rollNext again once the replacement is ready.
// A replica with no process (restarting, failed) is started at once. s.mu
// is held.
func (s *Supervisor) rollNext(n *node) {
	last := n.rollingSlot
	n.rollingSlot = nil
	for len(n.rolling) > 0 {
		sl := n.rolling[0]
		n.rolling = n.rolling[1:]
		if sl.done {
			continue
		}
		n.rollingSlot = sl
		if sl.p == nil {
			sl.cancelRestart()
			sl.failures, sl.window = 0, nil
			sl.pending = true
			return
		}
		sl.p.respawn = true
		s.stopProc(sl.p, "")
		return
	}
	if n.rollingOne && last != nil {
		s.out.logf("replica %s restarted", last.source())
	} else {
		s.out.logf("%s %s restarted", n.kind(), n.Name)
	}
	n.rollingOne = false
}

// restartDependents restarts, if n has restart_dependents (PartOf= seen
// from n), the dependents of n that run or are about to: not those
// stopped or failed, which stay so. It applies when n restarts as a whole:
// asked for, or after a crash left it without a ready replica.
func (s *Supervisor) restartDependents(n *node) {
	if !n.RestartDependents {
		return
	}
	for _, d := range n.dependents {
		if !d.want || d.failed || d.done || nodeState(d) == stateFailed || !(d.launched || d.live()) {
			continue
		}
		s.out.logf("restarting %s %s because %s restarted (restart_dependents)", d.kind(), d.Name, n.Name)
		if n.hasReady() {
			s.restartNode(d) // n keeps serving: d may roll
			continue
		}
		// n is down: d starts again once n is ready, as at first start.
		s.takeDown(d)
		s.startNode(d)
		s.restartDependents(d)
	}
}
