package proclet

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/pilotage/pilotage/codegen"
	"github.com/pilotage/pilotage/internal/config"
	"github.com/pilotage/pilotage/internal/envelope"
	"github.com/pilotage/pilotage/internal/rpc"
	"github.com/pilotage/pilotage/internal/telemetry"
)

// router keeps the routing table the deployer last sent, and one
// connection pool per remote component, each following a resolver over
// that table.
type router struct {
	dial   rpc.DialOptions
	policy callPolicy         // set before the first caller
	tel    *telemetry.Runtime // nil: calls are not traced nor counted

	mu      sync.Mutex
	table   map[string]rpc.Endpoints // component -> its endpoints, Version per component
	version uint64                   // last version given to a component's endpoints
	changed chan struct{}            // closed (and replaced) when table changes
	pools   map[string]*rpc.Pool
}

func newRouter(dial rpc.DialOptions, tel *telemetry.Runtime) *router {
	return &router{dial: dial, tel: tel, policy: newCallPolicy(config.Empty()), table: map[string]rpc.Endpoints{}, changed: make(chan struct{}), pools: map[string]*rpc.Pool{}}
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
		p = rpc.NewPool(r.policy.poolOptions(r.dial), r.resolver(c.Name))
		r.pools[c.Name] = p
	}
	pc := poolCaller{pool: p, component: c.Name, methods: make([]method, len(c.Methods))}
	for i, m := range c.Methods {
		pc.methods[i] = method{name: m.Name, idempotent: m.Idempotent, timeout: r.policy.cfg.CallTimeout(c.Name, m.Name)}
	}
	return r.tel.Caller(c, pc)
}

type poolCaller struct {
	pool      *rpc.Pool
	component string
	methods   []method // by index
}

// A method is what a caller knows of one method of the component it calls.
type method struct {
	name       string
	idempotent bool
	timeout    time.Duration // the deadline of a call whose context has none
}

func (c poolCaller) Call(ctx context.Context, m int, args []byte) ([]byte, error) {
	if m < 0 || m >= len(c.methods) {
		return nil, fmt.Errorf("call %s: no method %d", c.component, m)
	}
	meth := c.methods[m]
	if _, ok := ctx.Deadline(); ok {
		return c.pool.Call(ctx, c.component, m, args, meth.idempotent)
	}
	res, err := c.pool.CallWithin(ctx, c.component, m, args, meth.idempotent, meth.timeout)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("call %s.%s: no reply within %s, its default timeout (set timeouts in [calls] of pilotage.toml): %w", shortName(c.component), meth.name, meth.timeout, err)
	}
	return res, err
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
