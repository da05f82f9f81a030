package supervisor

import (
	"reflect"
	"sort"

	"github.com/pilotage/pilotage/internal/envelope"
)

// routes maps every component to the RPC addresses of its serving
// replicas. A component with none has an empty list, so its callers fail
// fast with ErrUnavailable (or wait, see outage). s.mu is held.
func (s *Supervisor) routes() map[string][]string {
	r := map[string][]string{}
	for _, n := range s.nodes {
		if n.IsUnit() {
			continue
		}
		addrs := []string{}
		for _, sl := range n.slots {
			if p := sl.p; p.serving() && p.rpcAddr != "" {
				addrs = append(addrs, p.rpcAddr)
			}
		}
		sort.Strings(addrs)
		for _, c := range n.Components {
			r[c] = addrs
		}
	}
	return r
}

// outage says why n has no serving replica, for its callers, and whether
// one is expected back soon (a replica is starting, restarting or
// frozen): then callers wait for it rather than fail at once. s.mu is
// held.
func outage(n *node) envelope.Outage {
	switch state := nodeState(n); {
	case !n.want:
		return envelope.Outage{Reason: "stopped"}
	case state == stateFailed:
		return envelope.Outage{Reason: "failed: " + n.why}
	case !n.launched:
		if n.why != "" {
			return envelope.Outage{Reason: "not started: " + n.why}
		}
		return envelope.Outage{Reason: "not started", Transient: true}
	}
	for _, sl := range n.slots {
		if comingBack(sl) {
			reason := "starting"
			switch {
			case sl.p != nil && sl.p.unresponsive:
				reason = "unresponsive"
			case sl.state == stateRestarting || sl.restarts > 0:
				reason = "restarting"
			}
			if sl.why != "" {
				reason += ": " + sl.why
			}
			return envelope.Outage{Reason: reason, Transient: true}
		}
	}
	return envelope.Outage{Reason: "no ready replica: " + n.why}
}

// comingBack reports whether sl's replica is expected to serve soon: its
// process runs, or is being stopped to be started again (killed for a
// failure, replaced by a rolling restart), or a start is pending or
// scheduled.
func comingBack(sl *slot) bool {
	if p := sl.p; p != nil {
		return !p.stopping || p.respawn || p.failure != ""
	}
	return sl.pending || sl.timer != nil && sl.state == stateRestarting
}

func (s *Supervisor) routesMessage() envelope.Routes {
	routes := s.routes()
	outages := map[string]envelope.Outage{}
	for _, n := range s.nodes {
		if n.IsUnit() || len(routes[n.Components[0]]) > 0 {
			continue
		}
		o := outage(n)
		for _, c := range n.Components {
			outages[c] = o
		}
	}
	return envelope.Routes{Routes: routes, Outages: outages}
}

// updateRouting pushes fresh routes to every live proclet and fresh
// backends to every proxy if they changed: a replica became ready or went
// away, or the outage of a component without one changed. reconcile calls
// it after every change. s.mu is held.
func (s *Supervisor) updateRouting() {
	m := s.routesMessage()
	if reflect.DeepEqual(m.Routes, s.lastRoutes.Routes) && reflect.DeepEqual(m.Outages, s.lastRoutes.Outages) {
		return
	}
	s.lastRoutes = m
	for _, n := range s.nodes {
		for _, sl := range n.slots {
			if p := sl.p; p != nil && p.conn != nil {
				p.conn.sendRoutes(m)
			}
		}
	}
	for _, px := range s.proxies {
		px.setBackends(s.backends(px.name), s.listenerOutage(px.name))
	}
}

// backends lists the addresses serving replicas bound for listener name.
func (s *Supervisor) backends(name string) []string {
	var out []string
	for _, n := range s.nodes {
		for _, sl := range n.slots {
			if p := sl.p; p.serving() {
				if a, ok := p.listeners[name]; ok {
					out = append(out, a)
				}
			}
		}
	}
	return out
}

// listenerOutage is the outage of the group serving listener name.
func (s *Supervisor) listenerOutage(name string) envelope.Outage {
	for _, n := range s.nodes {
		for _, l := range n.Listeners {
			if l == name {
				return outage(n)
			}
		}
	}
	return envelope.Outage{Reason: "no component serves it"}
}
