package supervisor

import (
	"fmt"
	"time"
)

// Default liveness checking of proclets (Options.PingInterval, ...): a
// proclet answers pings from the goroutine reading its envelope socket, so
// silence means the process is frozen (SIGSTOP, a debugger, a machine
// swapping) or its runtime is wedged, never that the app is busy.
const (
	DefaultPingInterval          = 500 * time.Millisecond
	DefaultUnresponsiveAfter     = 2 * time.Second
	DefaultKillUnresponsiveAfter = 10 * time.Second
)

// watchLiveness pings p every PingInterval from its hello until it exits.
// A proclet silent for UnresponsiveAfter (measured from the oldest ping it
// has not answered) is taken out of routing (callers' calls already sent
// to it are failed over by the transport's keepalive); one silent for
// KillUnresponsiveAfter is killed and so replaced. A tick that comes late
// means the supervisor itself was stalled (a debugger, Ctrl-Z, an
// overloaded machine): what it did not see then is no evidence against
// the proclet, so the count starts again.
func (s *Supervisor) watchLiveness(p *proc) {
	defer s.bg.Done()
	interval := s.opts.PingInterval
	tick := time.NewTicker(interval)
	defer tick.Stop()
	last := time.Now()
	for {
		select {
		case <-p.exited:
			return
		case <-tick.C:
		}
		s.mu.Lock()
		if p.slot.p != p || p.stopping {
			s.mu.Unlock()
			return
		}
		now := time.Now()
		if now.Sub(last) > 2*interval {
			p.unanswered = time.Time{}
		}
		last = now
		if p.unanswered.IsZero() {
			p.unanswered = now
		}
		p.pingSeq++
		p.conn.sendPing(p.pingSeq)
		silent := now.Sub(p.unanswered)
		switch {
		case silent >= s.opts.KillUnresponsiveAfter:
			why := fmt.Sprintf("not responding for %s", silent.Round(100*time.Millisecond))
			s.out.logf("%s is %s; killing it", p.slot.source(), why)
			s.killProc(p, why)
		case silent >= s.opts.UnresponsiveAfter && !p.unresponsive:
			p.unresponsive = true
			sl := p.slot
			if p.ready {
				sl.state = stateUnresponsive
			}
			sl.why = fmt.Sprintf("not responding to pings for %s: out of routing; killed if silent for %s", silent.Round(100*time.Millisecond), s.opts.KillUnresponsiveAfter)
			s.out.logf("%s is %s", sl.source(), sl.why)
			s.updateRouting()
			s.reconcile()
		}
		s.mu.Unlock()
	}
}

// pong records an answer to a ping; a proclet that was unresponsive is put
// back into routing. s.mu is held.
func (s *Supervisor) pong(p *proc) {
	p.unanswered = time.Time{}
	if !p.unresponsive {
		return
	}
	p.unresponsive = false
	sl := p.slot
	if p.ready && !p.stopping {
		sl.state, sl.why = stateReady, ""
	}
	s.out.logf("%s responds again; back in routing", sl.source())
	s.updateRouting()
	s.reconcile()
}
