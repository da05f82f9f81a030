package supervisor

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
)

var _ control.Backend = (*Supervisor)(nil)

// Status returns the state of every component and unit, in start order.
func (s *Supervisor) Status() *control.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &control.Status{
		App:      s.plan.App,
		PID:      os.Getpid(),
		StateDir: s.opts.StateDir,
		Now:      time.Now(),
		Started:  s.started,
		ReadyAt:  s.readyAt,
		Stopping: s.shutting,
		Units:    []control.UnitStatus{},
	}
	public := map[string]string{}
	for _, px := range s.proxies {
		st.Proxies = append(st.Proxies, px.status())
		public[px.name] = px.addr()
	}
	for _, n := range s.nodes {
		replicas := s.replicaStatus(n)
		state, why := nodeState(n), n.why
		if state == control.Degraded {
			why = degradedWhy(n)
		}
		base := control.UnitStatus{
			Kind:      n.kind(),
			Group:     n.Name,
			State:     state,
			Why:       why,
			Restarts:  n.restarts,
			Want:      len(n.slots),
			After:     append([]string{}, n.Deps...),
			Replicas:  replicas,
			LastError: n.lastErr,
			StartedAt: n.startedAt,
			ReadyAt:   n.readyAt,
			Addresses: []string{},
			Colocated: []string{},
		}
		if n.IsUnit() {
			u := base
			u.Name, u.FullName = n.Name, n.Name
			if t := probeTarget(n); t != "" {
				u.Addresses = append(u.Addresses, t)
			}
			st.Units = append(st.Units, u)
			continue
		}
		for _, c := range n.Components {
			u := base
			comp := s.plan.comps[c]
			u.Name, u.FullName = comp.Short, c
			u.RestartDep = n.RestartDependents
			u.Listeners = comp.Listeners
			u.Addresses = []string{}
			for _, l := range comp.Listeners {
				if a, ok := public[l]; ok {
					u.Addresses = append(u.Addresses, a)
				}
			}
			for _, other := range n.Components {
				if other != c {
					u.Colocated = append(u.Colocated, shortName(other))
				}
			}
			st.Units = append(st.Units, u)
		}
	}
	return st
}

func (s *Supervisor) replicaStatus(n *node) []control.ReplicaStatus {
	out := make([]control.ReplicaStatus, 0, len(n.slots))
	for _, sl := range n.slots {
		r := control.ReplicaStatus{Index: sl.index, State: sl.state, Restarts: sl.restarts, Why: sl.why}
		if n.failed && sl.p == nil {
			r.State = control.Failed
		}
		if p := sl.p; p != nil {
			r.PID = p.pid
			r.RPCAddress = p.rpcAddr
			r.Started = p.started
			if len(p.listeners) > 0 {
				r.Listeners = map[string]string{}
				for k, v := range p.listeners {
					r.Listeners[k] = v
				}
			}
		}
		out = append(out, r)
	}
	return out
}

// nodeState sums up a node's replicas in one systemd-like state.
func nodeState(n *node) string {
	switch {
	case n.failed:
		return control.Failed
	case n.done:
		return control.Stopped
	case !n.want && n.live():
		return control.Stopping
	case !n.want:
		return control.Stopped
	}
	var ready, restarting, stopping, failed, down, done int
	for _, sl := range n.slots {
		if sl.done {
			done++
			continue
		}
		if sl.p.serving() {
			ready++
			continue
		}
		switch sl.state {
		case control.Restarting:
			restarting++
			down++
		case control.Stopping:
			stopping++
		case control.Failed:
			failed++
			down++
		case control.Unresponsive:
			down++
		}
	}
	switch {
	case done == len(n.slots):
		return control.Stopped // the main component returned
	case n.rollingSlot != nil:
		return control.Restarting
	case ready+done == len(n.slots):
		return control.Ready
	case ready > 0 && down > 0:
		return control.Degraded
	case failed == len(n.slots)-done:
		return control.Failed
	case restarting > 0 || stopping > 0 && n.launched:
		return control.Restarting
	case !n.launched && n.live():
		return control.Restarting // stopping to start again
	}
	return control.Starting
}

// settling reports whether a start or restart of n is still under way:
// some replica is starting or restarting (not failed and waiting for its
// cool-down).
func settling(n *node) bool {
	if n.rollingSlot != nil {
		return true
	}
	for _, sl := range n.slots {
		if sl.done || sl.p.serving() {
			continue
		}
		if sl.state != control.Failed && sl.state != control.Unresponsive {
			return true
		}
	}
	return false
}

// degradedWhy says which replicas of n are down, and why.
func degradedWhy(n *node) string {
	var down []string
	ready := 0
	for _, sl := range n.slots {
		switch {
		case sl.done:
		case sl.p.serving():
			ready++
		default:
			d := fmt.Sprintf("%s %s", sl.source(), sl.state)
			if sl.why != "" {
				d += " (" + sl.why + ")"
			}
			down = append(down, d)
		}
	}
	return fmt.Sprintf("%d of %d replicas serve; %s", ready, len(n.slots), strings.Join(down, "; "))
}

func probeTarget(n *node) string {
	switch p := n.Unit.Ready; {
	case p.TCP != "":
		return p.TCP
	case p.HTTP != "":
		return p.HTTP
	}
	return ""
}

// Act performs op (stop, start, restart) on the group or unit hosting name
// and waits until it settles or ctx is done.
func (s *Supervisor) Act(ctx context.Context, op, name string) (*control.ActionResult, error) {
	s.mu.Lock()
	pn, err := s.plan.NodeOf(name)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	if s.shutting {
		s.mu.Unlock()
		return nil, fmt.Errorf("%s is shutting down", s.plan.App)
	}
	n := s.byName[pn.Name]
	res := &control.ActionResult{Op: op, Name: name, Group: n.Name, Components: append([]string{}, n.Components...)}
	note := groupNote(n, name)
	switch op {
	case "stop":
		s.out.logf("stop %s %s requested%s", n.kind(), n.Name, note)
		s.stopNode(n)
	case "start":
		s.out.logf("start %s %s requested%s", n.kind(), n.Name, note)
		s.startNode(n)
	case "restart":
		s.out.logf("restart %s %s requested%s", n.kind(), n.Name, note)
		s.restartNode(n)
	default:
		s.mu.Unlock()
		return nil, fmt.Errorf("unknown operation %q", op)
	}
	s.mu.Unlock()

	// Wait until it settles: stopped, or ready, or failed, or (a unit)
	// exited for good.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		state := nodeState(n)
		why, done := n.why, n.done
		busy := settling(n)
		if state == control.Degraded {
			why = degradedWhy(n)
		}
		s.mu.Unlock()
		res.State = state
		settled := state == control.Failed ||
			(op == "stop" && state == control.Stopped) ||
			(op != "stop" && (state == control.Ready || done || state == control.Degraded && !busy))
		if settled {
			res.Settled = true
			res.Message = fmt.Sprintf("%s %s: %s%s", n.kind(), n.Name, state, note)
			if (state == control.Failed || state == control.Degraded || done) && why != "" {
				res.Message += ": " + why
			}
			return res, nil
		}
		select {
		case <-ctx.Done():
			res.Message = fmt.Sprintf("%s %s: still %s%s", n.kind(), n.Name, state, note)
			if why != "" {
				res.Message += ": " + why
			}
			return res, nil
		case <-tick.C:
		}
	}
}

// Analyze returns, per component and unit, when its current activation
// started and became ready, and what it waited for.
func (s *Supervisor) Analyze() []control.AnalyzeUnit {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []control.AnalyzeUnit
	for _, n := range s.nodes {
		if n.IsUnit() {
			out = append(out, control.AnalyzeUnit{Name: n.Name, Start: n.startedAt, Ready: n.readyAt, After: append([]string{}, n.Deps...)})
			continue
		}
		for _, c := range n.Components {
			// The first component of a process to start also pays for the
			// process starting; the others of a colocated group start
			// when their Init begins.
			start, ready := n.startedAt, n.readyAt
			if t, ok := n.compStart[c]; ok && !firstToStart(n.compStart, t) {
				start = t
			}
			if t, ok := n.compReady[c]; ok {
				ready = t
			}
			var after []string
			for _, r := range s.plan.comps[c].Refs {
				after = appendUnique(after, shortName(r))
			}
			for _, d := range n.deps {
				if d.IsUnit() {
					after = appendUnique(after, d.Name)
				}
			}
			out = append(out, control.AnalyzeUnit{Name: shortName(c), Start: start, Ready: ready, After: after})
		}
	}
	return out
}

// firstToStart reports whether t is the earliest of starts.
func firstToStart(starts map[string]time.Time, t time.Time) bool {
	for _, other := range starts {
		if other.Before(t) {
			return false
		}
	}
	return true
}
