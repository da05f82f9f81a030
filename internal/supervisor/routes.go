package supervisor

import (
	"sort"

	"github.com/pilotage/pilotage/internal/proclet"
)

// routes maps every component to the RPC addresses of its ready replicas. A
// component with none has an empty list, so its callers fail fast with
// ErrUnavailable. s.mu is held.
func (s *Supervisor) routes() map[string][]string {
	r := map[string][]string{}
	for _, n := range s.nodes {
		if n.IsUnit() {
			continue
		}
		addrs := []string{}
		for _, sl := range n.slots {
			if p := sl.p; p != nil && p.ready && p.rpcAddr != "" {
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

func (s *Supervisor) routesMessage() proclet.Message {
	return proclet.Message{Type: proclet.Routes, Routes: s.routes()}
}

// updateRouting pushes fresh routes to every live proclet and fresh
// backends to every proxy, after a replica became ready or went away.
// s.mu is held.
func (s *Supervisor) updateRouting() {
	m := s.routesMessage()
	for _, n := range s.nodes {
		for _, sl := range n.slots {
			if p := sl.p; p != nil && p.conn != nil {
				p.conn.sendRoutes(m)
			}
		}
	}
	for _, px := range s.proxies {
		px.setBackends(s.backends(px.name))
	}
}

// backends lists the addresses ready replicas bound for listener name.
func (s *Supervisor) backends(name string) []string {
	var out []string
	for _, n := range s.nodes {
		for _, sl := range n.slots {
			if p := sl.p; p != nil && p.ready {
				if a, ok := p.listeners[name]; ok {
					out = append(out, a)
				}
			}
		}
	}
	return out
}
