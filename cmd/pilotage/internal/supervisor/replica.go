package supervisor

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/pilotage/pilotage/internal/config"
	"github.com/pilotage/pilotage/internal/envelope"
)

// A node is the running state of a plan Node. Fields are guarded by
// Supervisor.mu.
type node struct {
	*Node
	order      int
	deps       []*node
	dependents []*node
	slots      []*slot

	want     bool // should run (false after a stop)
	launched bool // its replicas were started for the current activation
	failed   bool // a unit that failed and whose policy does not restart it; cleared by a start
	done     bool // a unit that exited and is not restarted; cleared by a start
	why      string
	lastErr  string
	restarts int // automatic restarts of its replicas, ever

	// A rolling restart replaces one replica at a time, each once the one
	// before is ready again.
	rolling     []*slot // replicas still to replace
	rollingSlot *slot   // the replica being replaced, or nil
	rollingOne  bool    // the rolling restart is of one replica (restartReplica)

	// Timestamps of the current activation, for analyze.
	startedAt, readyAt time.Time
	compStart          map[string]time.Time
	compReady          map[string]time.Time
}

// A slot is one replica position of a node; its process comes and goes.
// Restarts are counted and backed off per slot, so that a replica in a
// crash loop never takes its healthy siblings down.
type slot struct {
	node     *node
	index    int
	p        *proc // the live process, or nil
	state    runState
	why      string
	failures int         // consecutive quick failures, for the backoff
	window   []time.Time // automatic restarts within the start interval
	restarts int
	timer    *time.Timer // pending restart
	pending  bool        // wants a process as soon as it may start one
	done     bool        // a main replica whose app function returned
}

// serving reports whether p takes calls: ready, answering pings, not
// stopping.
func (p *proc) serving() bool { return p != nil && p.ready && !p.unresponsive && !p.stopping }

// hasReady reports whether some replica of n serves.
func (n *node) hasReady() bool {
	for _, sl := range n.slots {
		if sl.p.serving() {
			return true
		}
	}
	return false
}

// allReady reports whether every replica of n serves (or, for the main
// component, returned).
func (n *node) allReady() bool {
	for _, sl := range n.slots {
		if !sl.p.serving() && !sl.done {
			return false
		}
	}
	return true
}

// live reports whether some process of n is running.
func (n *node) live() bool {
	for _, sl := range n.slots {
		if sl.p != nil {
			return true
		}
	}
	return false
}

// kind names n's kind in messages.
func (n *node) kind() string {
	if n.IsUnit() {
		return "unit"
	}
	return "component"
}

// handle applies a message from the proclet of p.
func (s *Supervisor) handle(p *proc, m envelope.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sl := p.slot
	if sl.p != p {
		return // from a process already reaped
	}
	n := sl.node
	// What a proclet names must be what it was given: its maps and
	// goroutines then stay bounded whatever it sends.
	switch m := m.(type) {
	case envelope.Hello:
		if p.greeted {
			s.refuse(p, errors.New("a second hello"))
			return
		}
		p.greeted, p.rpcAddr = true, m.RPCAddress
		s.bg.Add(1)
		go s.watchLiveness(p)
	case envelope.Pong:
		s.pong(p)
	case envelope.Listening:
		if !slices.Contains(n.Listeners, m.Listener) {
			s.refuse(p, fmt.Errorf("listening on %q, a listener it does not have", m.Listener))
			return
		}
		p.listeners[m.Listener] = m.Address
	case envelope.ComponentStarting:
		s.componentTime(p, n.compStart, m.Component, m.Time)
	case envelope.ComponentReady:
		s.componentTime(p, n.compReady, m.Component, m.Time)
	case envelope.Ready:
		s.markReady(p)
	case envelope.Unhealthy:
		why := "unhealthy"
		if m.Error != "" {
			why += ": " + m.Error
		}
		s.out.logf("%s is %s; restarting it", sl.source(), why)
		s.stopProc(p, why)
	case envelope.AppDone:
		p.appDone = true
	case envelope.Failed:
		p.lastError = m.Error
		n.lastErr = m.Error
	case envelope.CallHealth:
		s.callHealth(p, m)
	}
}

// componentTime records in times (if not nil) when component c of p's
// group started or became ready, the first time it is told. s.mu is held.
func (s *Supervisor) componentTime(p *proc, times map[string]time.Time, c string, at time.Time) {
	if !slices.Contains(p.slot.node.Components, c) {
		s.refuse(p, fmt.Errorf("it reports on %q, a component it does not host", c))
		return
	}
	if _, ok := times[c]; !ok && times != nil {
		times[c] = timeOr(at, time.Now())
	}
}

// timeOr returns t, or def if t is zero.
func timeOr(t, def time.Time) time.Time {
	if t.IsZero() {
		return def
	}
	return t
}

// protocolError handles a proclet that broke the envelope protocol (one
// built with another version of the module, say): it is killed, and err
// is the reason of its exit. s.mu is not held.
func (s *Supervisor) protocolError(p *proc, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.slot.p != p {
		return
	}
	s.refuse(p, err)
}

// refuse kills p for breaking the protocol: err is the reason of its
// exit. s.mu is held.
func (s *Supervisor) refuse(p *proc, err error) {
	p.lastError, p.slot.node.lastErr = err.Error(), err.Error()
	s.out.logf("%s: %v; killing it", p.slot.source(), err)
	s.killProc(p, err.Error())
}

// markReady records that p is ready and publishes its addresses.
func (s *Supervisor) markReady(p *proc) {
	if p.stopping || p.ready {
		return
	}
	sl := p.slot
	n := sl.node
	p.ready = true
	p.readyAt = time.Now()
	sl.state = stateReady
	sl.why = ""
	if n.readyAt.IsZero() {
		n.readyAt = p.readyAt
	}
	n.why = ""
	s.updateRouting()
	if n.rollingSlot == sl {
		s.rollNext(n)
	}
	s.reconcile()
}

// exited handles the end of p's process, wait's error err.
func (s *Supervisor) exited(p *proc, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sl := p.slot
	n := sl.node
	p.ready = false
	if p.conn != nil {
		p.conn.close()
	}
	if p.cancel != nil {
		p.cancel()
	}
	sl.p = nil
	reason := exitReason(err)
	if p.lastError != "" {
		reason += ": " + p.lastError
	}
	uptime := time.Since(p.started).Round(time.Millisecond)
	switch {
	case p.stopping && p.failure == "" && p.respawn:
		// Replaced by a rolling restart: start the new process at once.
		sl.state, sl.why = stateRestarting, "restart requested"
		s.out.logf("%s stopped (%s); starting its replacement", sl.source(), reason)
		if !s.shutting && n.want {
			sl.pending = true
		}
	case p.stopping && p.failure == "":
		sl.state = stateStopped
		s.out.logf("%s stopped (%s)", sl.source(), reason)
	case n.Main && p.appDone:
		// AppDone, not the exit status, tells an app that finished from a
		// replica stopped by a signal (which exits 0 too).
		sl.state = stateStopped
		sl.done = true
		sl.why = "the app function returned"
		s.out.logf("%s: the app function returned", sl.source())
		s.checkMainDone()
	case n.IsUnit() && !unitRestarts(n.Unit.Restart, err != nil || p.failure != ""):
		if p.failure != "" {
			reason = p.failure // killed for it: the signal says less
		}
		why := fmt.Sprintf("%s after %s (restart = %q)", reason, uptime, restartPolicy(n.Unit))
		s.out.logf("%s %s", sl.source(), why)
		sl.why, n.lastErr, n.why = why, why, why
		n.launched = false
		if err != nil || p.failure != "" {
			sl.state = stateFailed
			n.failed = true
		} else {
			sl.state = stateStopped
			n.done = true
		}
	default:
		if p.failure != "" {
			reason = p.failure
		}
		s.restartSlot(sl, fmt.Sprintf("%s after %s", reason, uptime), uptime)
	}
	s.reconcile()
}

// restartPolicy returns a unit's effective restart policy.
func restartPolicy(u *config.Unit) string {
	if u.Restart == "" {
		return "on-failure"
	}
	return u.Restart
}

// unitRestarts applies a unit's restart policy to an unexpected exit,
// failed or not.
func unitRestarts(policy string, failed bool) bool {
	switch policy {
	case "always":
		return true
	case "no":
		return false
	}
	return failed // on-failure
}

// checkMainDone ends the app once every main replica has returned.
func (s *Supervisor) checkMainDone() {
	for _, n := range s.nodes {
		if !n.Main {
			continue
		}
		for _, sl := range n.slots {
			if !sl.done {
				return
			}
		}
	}
	select {
	case <-s.mainDone:
	default:
		close(s.mainDone)
	}
}
