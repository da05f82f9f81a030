package rpc

import (
	"fmt"

	"github.com/pilotage/pilotage/codegen"
	"github.com/pilotage/pilotage/internal/resilience"
)

// newLimiter returns the limiter of calls in flight to component name.
func (s *Server) newLimiter(name string) *resilience.Limiter {
	limit := 0
	if s.opts.MaxInFlight != nil {
		limit = s.opts.MaxInFlight(name)
	}
	return resilience.NewLimiter(limit)
}

// overloaded is the refusal of a call to comp over its limit.
func overloaded(comp *component) error {
	return fmt.Errorf("%s is over its limit of %d calls in flight on this replica: %w", shortName(comp.name), comp.limiter.Limit(), codegen.ErrOverloaded)
}

// A componentLoad is what a Server's limiter knows of one component.
type componentLoad struct {
	Component string
	InFlight  int
	Limit     int   // current limit (huge if none)
	Shed      int64 // calls refused over it, ever
}

// load returns the load of every registered component.
func (s *Server) load() []componentLoad {
	comps := *s.comps.Load()
	out := make([]componentLoad, 0, len(comps))
	for _, c := range comps {
		out = append(out, componentLoad{Component: c.name, InFlight: c.limiter.InFlight(), Limit: c.limiter.Limit(), Shed: c.limiter.Shed()})
	}
	return out
}
