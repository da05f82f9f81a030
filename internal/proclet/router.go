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
	mu     sync.Mutex
	routes map[string][]string // component -> pool addresses
	pools  map[string]*rpc.Pool
}

func newRouter() *router {
	return &router{routes: map[string][]string{}, pools: map[string]*rpc.Pool{}}
}

// update replaces the routing table; components absent from it have no
// ready replica, so calls to them fail at once with ErrUnavailable.
func (r *router) update(routes map[string][]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.routes = routes
	for comp, p := range r.pools {
		p.Update(r.routes[comp])
	}
}

// caller returns the Caller client stubs of c use.
func (r *router) caller(c codegen.Component) codegen.Caller {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.pools[c.Name]
	if !ok {
		p = rpc.NewPool(rpc.PoolOptions{})
		p.Update(r.routes[c.Name])
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
