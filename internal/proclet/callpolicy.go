package proclet

import (
	"context"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/pilotage/pilotage/internal/config"
	"github.com/pilotage/pilotage/internal/envelope"
	"github.com/pilotage/pilotage/internal/resilience"
	"github.com/pilotage/pilotage/internal/rpc"
)

// callPolicy is how this process's calls to other processes are
// protected: the [calls] section of the configuration.
type callPolicy struct {
	cfg           *config.File
	healthChanged chan struct{} // capacity 1: some pool ejected or readmitted a replica
}

func newCallPolicy(cfg *config.File) callPolicy {
	return callPolicy{cfg: cfg, healthChanged: make(chan struct{}, 1)}
}

// poolOptions returns the options of a pool of connections to one
// component.
func (p callPolicy) poolOptions(dial rpc.DialOptions) rpc.PoolOptions {
	c := p.cfg.Calls
	return rpc.PoolOptions{
		Dial:        dial,
		Ejection:    resilience.EjectionPolicy{After: c.EjectAfter},
		RetryBudget: resilience.BudgetPolicy{Ratio: c.RetryRatio, Floor: c.RetryFloor},
		OnHealthChange: func() {
			select {
			case p.healthChanged <- struct{}{}:
			default:
			}
		},
	}
}

// callHealth returns what the pools know of the replicas they call.
func (r *router) callHealth() envelope.CallHealth {
	r.mu.Lock()
	pools := maps.Clone(r.pools)
	r.mu.Unlock()
	h := envelope.CallHealth{Components: map[string]envelope.ComponentHealth{}}
	for c, p := range pools {
		ph := p.Health()
		if len(ph.Ejected) == 0 {
			continue
		}
		ch := envelope.ComponentHealth{Open: ph.Open}
		for _, e := range ph.Ejected {
			ch.Ejected = append(ch.Ejected, e.Addr)
		}
		slices.Sort(ch.Ejected)
		h.Components[c] = ch
	}
	return h
}

// healthReportInterval is the shortest time between two CallHealth
// messages: a flapping replica does not flood the deployer.
const healthReportInterval = 100 * time.Millisecond

// reportCallHealth sends the deployer a CallHealth whenever the pools'
// ejections change, until ctx ends.
func reportCallHealth(ctx context.Context, ec *envelope.Conn, r *router) {
	var last envelope.CallHealth
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.policy.healthChanged:
		}
		if h := r.callHealth(); !reflect.DeepEqual(h, last) {
			// Best effort: if the socket is gone, Run is returning anyway.
			if ec.Send(h) == nil {
				last = h
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(healthReportInterval):
		}
	}
}

// shortName turns "example.com/shop/cart.Cart" into "cart.Cart".
func shortName(full string) string { return full[strings.LastIndex(full, "/")+1:] }
