package proclet

import (
	"context"
	"sync"

	"github.com/pilotage/pilotage/codegen"
	"github.com/pilotage/pilotage/internal/rpc"
)

// router keeps one connection pool per remote component and points each at
// the ready replicas the supervisor last announced.
type router struct {
	mu      sync.Mutex
	routes  map[string][]string // component -> pool addresses
	outages map[string]Outage   // component -> why it has no address
	pools   map[string]*rpc.Pool
}

func newRouter() *router {
	return &router{routes: map[string][]string{}, outages: map[string]Outage{}, pools: map[string]*rpc.Pool{}}
}

// update replaces the routing table from a Routes message; calls to a
// component without addresses fail with ErrUnavailable and the reason the
// supervisor gave, at once or, if the outage is transient, once none came
// back in time.
func (r *router) update(m Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.routes, r.outages = m.Routes, m.Outages
	for comp, p := range r.pools {
		r.route(comp, p)
	}
}

// route points p at the current addresses of comp. r.mu is held.
func (r *router) route(comp string, p *rpc.Pool) {
	o, ok := r.outages[comp]
	if !ok {
		o = Outage{Reason: "no ready replica"}
	}
	p.Route(r.routes[comp], rpc.Outage{Reason: o.Reason, Transient: o.Transient})
}

// caller returns the Caller client stubs of c use.
func (r *router) caller(c codegen.Component) codegen.Caller {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.pools[c.Name]
	if !ok {
		p = rpc.NewPool(rpc.PoolOptions{})
		r.route(c.Name, p)
		r.pools[c.Name] = p
	}
	idempotent := make([]bool, len(c.Methods))
	for i, m := range c.Methods {
		idempotent[i] = m.Idempotent
	}
	return poolCaller{pool: p, component: c.Name, idempotent: idempotent}
}

type poolCaller struct {
	pool       *rpc.Pool
	component  string
	idempotent []bool
}

func (c poolCaller) Call(ctx context.Context, m int, args []byte) ([]byte, error) {
	return c.pool.Call(ctx, c.component, m, args, m < len(c.idempotent) && c.idempotent[m])
}

// close closes every pool's connections.
func (r *router) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.pools {
		p.Close()
	}
}
