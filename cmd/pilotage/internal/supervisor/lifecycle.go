package supervisor

import (
	"fmt"
	"strings"
	"syscall"
	"time"
)

// reconcile starts what should run and can (every dependency has a ready
// replica), advances a shutdown, and notices when the app is ready. s.mu is
// held; every state change ends with a call.
func (s *Supervisor) reconcile() {
	if s.shutting {
		s.updateRouting() // a replica that died takes no more calls
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
				sl.state, sl.why = stateStarting, why
			}
			continue
		}
		s.launch(n)
	}
	s.spawnPending()
	s.updateRouting()
	s.checkReady()
	s.notifyChange()
}

// blocker says what n waits for, or "".
func blocker(n *node) string {
	for _, d := range n.deps {
		if d.hasReady() {
			continue
		}
		why := fmt.Sprintf("waiting for %s %s", d.kind(), d.Name)
		failed := d.failed || nodeState(d) == stateFailed
		switch {
		case failed:
			why += " (failed)"
		case !d.want:
			why += " (stopped)"
		case d.done:
			why += " (exited)"
		}
		if d.why != "" && !failed {
			why += ": " + d.why
		}
		return why
	}
	return ""
}

// launch marks every replica of n to be started.
func (s *Supervisor) launch(n *node) {
	n.launched = true
	n.why = ""
	n.startedAt, n.readyAt = time.Now(), time.Time{}
	n.compStart, n.compReady = map[string]time.Time{}, map[string]time.Time{}
	for _, sl := range n.slots {
		sl.done = false
		sl.cancelRestart()
		sl.pending = true
	}
}

// spawnPending starts the processes of pending slots, dependencies first,
// while fewer than MaxStarting processes are starting: an app of many
// replicas starts at a pace the machine can take, and a signal stops it at
// once (shutdown clears the pending slots). s.mu is held.
func (s *Supervisor) spawnPending() {
	starting := 0
	for _, n := range s.nodes {
		for _, sl := range n.slots {
			if sl.p != nil && !sl.p.ready && !sl.p.stopping {
				starting++
			}
		}
	}
	for _, n := range s.nodes {
		for _, sl := range n.slots {
			if !sl.pending || sl.p != nil {
				continue
			}
			if starting >= s.maxStarting {
				sl.state, sl.why = stateStarting, fmt.Sprintf("queued: %d processes are starting (at most %d at once)", starting, s.maxStarting)
				continue
			}
			if s.spawnSlot(sl) {
				starting++
			}
		}
	}
}

// spawnSlot starts the process of sl; a failure to start counts as a crash.
func (s *Supervisor) spawnSlot(sl *slot) bool {
	// sl stays pending while it is spawned: the routes the new process's
	// Init carries count its own component as coming, not as gone.
	p, err := s.spawn(sl)
	sl.pending = false
	if err != nil {
		s.out.logf("%v", err)
		// Back off even the first time: out of processes or descriptors,
		// an immediate retry would fail the same way.
		sl.failures = max(sl.failures, 1)
		s.restartSlot(sl, err.Error(), 0)
		return false
	}
	sl.p = p
	sl.state, sl.why = stateStarting, ""
	return true
}

// withdrawDelay is how long a proclet that served stays up after its
// addresses were withdrawn, before it is told to stop: callers that picked
// it a moment before (a proxy's dial completing, routes on their way to
// other proclets) reach it while it still accepts.
const withdrawDelay = 100 * time.Millisecond

// stopProc drains and stops p: its routes are withdrawn first, then,
// withdrawDelay later if it served, it gets Stop, SIGTERM after
// StopTimeout, and SIGKILL after KillTimeout more. A non-empty failure
// makes its exit count as a crash.
func (s *Supervisor) stopProc(p *proc, failure string) {
	if p.stopping {
		return
	}
	served := p.serving()
	s.withdraw(p, failure)
	grace := s.opts.StopTimeout
	if p.conn == nil {
		grace = 0 // a unit gets SIGTERM right away
	}
	kill := s.opts.KillTimeout
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		if p.conn != nil {
			if served && !s.isShutting() {
				select {
				case <-p.exited:
					return
				case <-time.After(withdrawDelay):
				}
			}
			p.conn.sendStop()
		}
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

func (s *Supervisor) isShutting() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shutting
}

// killProc kills p at once with SIGKILL (a frozen process does not read a
// Stop message nor act on SIGTERM); its exit counts as a crash (failure).
func (s *Supervisor) killProc(p *proc, failure string) {
	if p.stopping {
		return
	}
	s.withdraw(p, failure)
	p.signal(syscall.SIGKILL)
}

// withdraw marks p stopping, with the failure its exit will count as (""
// for none), and takes it out of routing first, so that callers stop
// sending to it before it goes.
func (s *Supervisor) withdraw(p *proc, failure string) {
	wasServing := p.serving()
	p.stopping, p.failure = true, failure
	p.ready = false
	p.slot.state = stateStopping
	if wasServing {
		s.updateRouting()
	}
	if p.cancel != nil {
		p.cancel()
	}
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
	n.rolling, n.rollingSlot = nil, nil
	for _, sl := range n.slots {
		sl.cancelRestart()
		if sl.p != nil {
			sl.p.respawn = false
			s.stopProc(sl.p, "")
		} else if sl.state != stateFailed || !n.failed {
			sl.state = stateStopped
		}
	}
}

// startNode starts n (once its dependencies are ready), clearing failures
// and backoffs: a replica waiting for its cool-down starts at once.
func (s *Supervisor) startNode(n *node) {
	n.want = true
	n.failed = false
	n.done = false
	for _, sl := range n.slots {
		sl.failures, sl.window = 0, nil
		if n.launched && sl.p == nil && !sl.done {
			sl.cancelRestart()
			sl.pending = true
		}
	}
	s.reconcile()
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
		n.rolling, n.rollingSlot = nil, nil
		for _, sl := range n.slots {
			sl.cancelRestart()
			if sl.p == nil && sl.state != stateFailed {
				sl.state = stateStopped
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
