package proclet

import (
	"context"
	"maps"
	"slices"
	"sync"

	"github.com/pilotage/pilotage/codegen"
	"github.com/pilotage/pilotage/internal/envelope"
	"github.com/pilotage/pilotage/internal/rpc"
	"github.com/pilotage/pilotage/internal/telemetry"
)

// router keeps the routing table the deployer last sent, and one
// connection pool per remote component, each following a resolver over
// that table.
type router struct {
	dial rpc.DialOptions
	tel  *telemetry.Runtime // nil: calls are not traced nor counted

	mu      sync.Mutex
	table   map[string]rpc.Endpoints // component -> its endpoints, Version per component
	version uint64                   // last version given to a component's endpoints
	changed chan struct{}            // closed (and replaced) when table changes
	pools   map[string]*rpc.Pool
}

func newRouter(dial rpc.DialOptions, tel *telemetry.Runtime) *router {
	return &router{dial: dial, tel: tel, table: map[string]rpc.Endpoints{}, changed: make(chan struct{}), pools: map[string]*rpc.Pool{}}
}

// update replaces the routing table with m's. A component whose addresses
// or outage changed gets a new version, which wakes its resolver; one
// without addresses gets the reason the deployer gave, or "no ready
// replica".
func (r *router) update(m envelope.Routes) {
	r.mu.Lock()
	defer r.mu.Unlock()
	next := map[string]rpc.Endpoints{}
	for c, addrs := range m.Routes {
		next[c] = rpc.Endpoints{Addrs: addrs}
	}
	for c, o := range m.Outages {
		e := next[c]
		e.Outage = rpc.Outage{Reason: o.Reason, Transient: o.Transient}
		next[c] = e
	}
	for c, e := range next {
		if len(e.Addrs) == 0 && e.Outage.Reason == "" {
			e.Outage.Reason = "no ready replica"
		}
		if old, ok := r.table[c]; ok && slices.Equal(old.Addrs, e.Addrs) && old.Outage == e.Outage {
			e.Version = old.Version
		} else {
			r.version++
			e.Version = r.version
		}
		next[c] = e
	}
	r.table = next
	close(r.changed)
	r.changed = make(chan struct{})
}

// resolver returns the resolver of component c over the routing table.
func (r *router) resolver(c string) rpc.Resolver { return componentResolver{r: r, component: c} }

// A componentResolver resolves one component from the deployer's routes.
type componentResolver struct {
	r         *router
	component string
}

func (cr componentResolver) Resolve(ctx context.Context, version uint64) (rpc.Endpoints, error) {
	for {
		cr.r.mu.Lock()
		e, ok := cr.r.table[cr.component]
		changed := cr.r.changed
		cr.r.mu.Unlock()
		if !ok { // not in the routes: no replica is known, and none is coming
			e = rpc.Endpoints{Outage: rpc.Outage{Reason: "no ready replica"}, Version: missingVersion}
		}
		if e.Version != version {
			return e, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return rpc.Endpoints{}, ctx.Err()
		}
	}
}

// missingVersion is the version of a component the routes do not name;
// the router's own versions count up from 1 and never reach it.
const missingVersion = ^uint64(0)

// caller returns the Caller client stubs of c use.
func (r *router) caller(c codegen.Component) codegen.Caller {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.pools[c.Name]
	if !ok {
		p = rpc.NewPool(rpc.PoolOptions{Dial: r.dial}, r.resolver(c.Name))
		r.pools[c.Name] = p
	}
	idempotent := make([]bool, len(c.Methods))
	for i, m := range c.Methods {
		idempotent[i] = m.Idempotent
	}
	return r.tel.Caller(c, poolCaller{pool: p, component: c.Name, idempotent: idempotent})
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
	pools := slices.Collect(maps.Values(r.pools))
	r.pools = map[string]*rpc.Pool{}
	r.mu.Unlock()
	for _, p := range pools {
		p.Close()
	}
}
