package supervisor

import (
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/pilotage/pilotage/internal/control"
)

// reconcile starts what should run and can (every dependency has a ready
// replica), advances a shutdown, and notices when the app is ready. s.mu is
// held; every state change ends with a call.
func (s *Supervisor) reconcile() {
	if s.shutting {
		s.shutdownStep()
		return
	}
	for _, n := range s.nodes {
		if !n.want || n.failed || n.done || n.launched || n.live() {
			continue
		}
		if why := blocker(n); why != "" {
			n.why = why
			for _, sl := range n.slots {
				sl.state, sl.why = control.Starting, why
			}
			continue
		}
		s.launch(n)
	}
	s.checkReady()
}

// blocker says what n waits for, or "".
func blocker(n *node) string {
	for _, d := range n.deps {
		if d.hasReady() {
			continue
		}
		why := fmt.Sprintf("waiting for %s %s", d.kind(), d.Name)
		switch {
		case d.failed:
			why += " (failed)"
		case !d.want:
			why += " (stopped)"
		case d.done:
			why += " (exited)"
		}
		if d.why != "" && !d.failed {
			why += ": " + d.why
		}
		return why
	}
	return ""
}

// launch starts every replica of n.
func (s *Supervisor) launch(n *node) {
	n.launched = true
	n.why = ""
	n.startedAt, n.readyAt = time.Now(), time.Time{}
	n.compStart, n.compReady = map[string]time.Time{}, map[string]time.Time{}
	for _, sl := range n.slots {
		sl.done = false
		s.spawnSlot(sl)
	}
}

// spawnSlot starts the process of sl; a failure to start counts as a crash.
func (s *Supervisor) spawnSlot(sl *slot) {
	sl.timer = nil
	p, err := s.spawn(sl)
	if err != nil {
		s.out.logf("%v", err)
		sl.state = control.Failed
		s.restartSlot(sl, err.Error(), 0)
		return
	}
	sl.p = p
	sl.state, sl.why = control.Starting, ""
}

// stopProc drains and stops p: its routes are withdrawn first, then it gets
// Stop, SIGTERM after StopTimeout, and SIGKILL after KillTimeout more. A
// non-empty failure makes its exit count as a crash.
func (s *Supervisor) stopProc(p *proc, failure string) {
	if p.stopping {
		return
	}
	p.stopping, p.failure = true, failure
	p.slot.state = control.Stopping
	if p.ready {
		p.ready = false
		s.updateRouting() // callers stop sending here before it drains
	}
	if p.cancel != nil {
		p.cancel()
	}
	grace := s.opts.StopTimeout
	if p.conn != nil {
		p.conn.sendStop()
	} else {
		grace = 0 // a unit gets SIGTERM right away
	}
	kill := s.opts.KillTimeout
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		if grace > 0 {
			select {
			case <-p.exited:
				return
			case <-time.After(grace):
			}
		}
		p.signal(syscall.SIGTERM)
		select {
		case <-p.exited:
			return
		case <-time.After(kill):
		}
		s.out.logf("%s did not stop within %s of SIGTERM; killing it", p.slot.source(), kill)
		p.signal(syscall.SIGKILL)
	}()
}

// stopNode stops every replica of n and keeps it stopped; a failed or
// exited n becomes stopped.
func (s *Supervisor) stopNode(n *node) {
	n.want = false
	n.failed, n.done = false, false
	s.takeDown(n)
}

// takeDown stops n's processes and cancels pending restarts.
func (s *Supervisor) takeDown(n *node) {
	n.launched = false
	n.why = ""
	for _, sl := range n.slots {
		sl.cancelRestart()
		if sl.p != nil {
			s.stopProc(sl.p, "")
		} else if sl.state != control.Failed || !n.failed {
			sl.state = control.Stopped
		}
	}
}

// startNode starts n (once its dependencies are ready), clearing a failure.
func (s *Supervisor) startNode(n *node) {
	n.want = true
	n.failed = false
	n.done = false
	n.window = nil
	for _, sl := range n.slots {
		sl.failures = 0
	}
	s.reconcile()
}

// restartNode stops n, then starts it again once every process exited,
// and, with restart_dependents, restarts its dependents too.
func (s *Supervisor) restartNode(n *node) {
	s.takeDown(n)
	s.startNode(n)
	s.restartDependents(n)
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
		if !d.want || d.failed || d.done || !(d.launched || d.live()) {
			continue
		}
		s.out.logf("restarting %s %s because %s restarted (restart_dependents)", d.kind(), d.Name, n.Name)
		s.restartNode(d)
	}
}

// shutdown begins stopping everything in reverse dependency order.
func (s *Supervisor) shutdown() {
	if s.shutting {
		return
	}
	s.shutting = true
	for _, n := range s.nodes {
		n.want = false
		n.launched = false
		for _, sl := range n.slots {
			sl.cancelRestart()
			if sl.p == nil && sl.state != control.Failed {
				sl.state = control.Stopped
			}
		}
	}
	s.shutdownStep()
}

// shutdownStep stops each node none of whose dependents still runs, and
// reports the end once nothing runs.
func (s *Supervisor) shutdownStep() {
	anyLive := false
	for _, n := range s.nodes {
		if !n.live() {
			continue
		}
		anyLive = true
		blocked := false
		for _, d := range n.dependents {
			if d.live() {
				blocked = true
				break
			}
		}
		if !blocked {
			for _, sl := range n.slots {
				if sl.p != nil {
					s.stopProc(sl.p, "")
				}
			}
		}
	}
	if !anyLive && !s.finishedOnce {
		s.finishedOnce = true
		close(s.finished)
	}
}

// checkReady announces the app once every replica is ready, the first time.
func (s *Supervisor) checkReady() {
	if !s.readyAt.IsZero() {
		return
	}
	for _, n := range s.nodes {
		if n.done && len(n.dependents) == 0 {
			continue // a unit that did its work and that nothing needs
		}
		if !n.allReady() {
			return
		}
	}
	s.readyAt = time.Now()
	for _, px := range s.proxies {
		s.out.plainf("%s: http://%s", px.name, px.addr())
	}
	s.out.plainf("app ready in %s", s.readyAt.Sub(s.started).Round(time.Millisecond))
	close(s.ready)
}

// groupNote says which components an action on n affects.
func groupNote(n *node, asked string) string {
	if n.IsUnit() || len(n.Components) < 2 {
		return ""
	}
	var others []string
	for _, c := range n.Components {
		if c != asked && shortName(c) != asked {
			others = append(others, shortName(c))
		}
	}
	return fmt.Sprintf(" (colocated group %s: also %s)", n.Name, strings.Join(others, ", "))
}
