package supervisor

import (
	"fmt"
	"slices"

	"github.com/pilotage/pilotage/internal/envelope"
)

// callHealth records what the callers in p say of the replicas they call
// (which status shows), once checked: it may name only components of the
// app, and no more addresses than their replicas. s.mu is held.
func (s *Supervisor) callHealth(p *proc, m envelope.CallHealth) {
	for c, h := range m.Components {
		comp := s.plan.comps[c]
		if comp == nil {
			s.refuse(p, fmt.Errorf("call health of %q, a component the app does not have", c))
			return
		}
		if n := s.nodeOf(c); n == nil || len(h.Ejected) > len(n.slots) {
			s.refuse(p, fmt.Errorf("call health of %s names %d ejected replicas, more than it has", c, len(h.Ejected)))
			return
		}
	}
	p.callHealth = m.Components
	s.notifyChange()
}

// nodeOf returns the node hosting component c, or nil. s.mu is held.
func (s *Supervisor) nodeOf(c string) *node {
	for _, n := range s.nodes {
		if slices.Contains(n.Components, c) {
			return n
		}
	}
	return nil
}

// callers returns the sources of the live replicas whose callers say
// that f holds of their view of component c, sorted. s.mu is held.
func (s *Supervisor) callers(c string, f func(envelope.ComponentHealth) bool) []string {
	var out []string
	for _, n := range s.nodes {
		for _, sl := range n.slots {
			if sl.p == nil {
				continue
			}
			if h, ok := sl.p.callHealth[c]; ok && f(h) {
				out = append(out, sl.source())
			}
		}
	}
	slices.Sort(out)
	return out
}

// circuitOpenIn returns the replicas whose circuit to c is open. s.mu is
// held.
func (s *Supervisor) circuitOpenIn(c string) []string {
	return s.callers(c, func(h envelope.ComponentHealth) bool { return h.Open })
}

// ejectedBy returns the replicas that ejected the replica of c at
// rpcAddr. s.mu is held.
func (s *Supervisor) ejectedBy(c, rpcAddr string) []string {
	if rpcAddr == "" {
		return nil
	}
	return s.callers(c, func(h envelope.ComponentHealth) bool { return slices.Contains(h.Ejected, rpcAddr) })
}
