package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/codegen"
	"github.com/pilotage/pilotage/internal/graph"
	"github.com/pilotage/pilotage/internal/jsoncall"
	"github.com/pilotage/pilotage/internal/rpc"
)

var _ control.CallBackend = (*Supervisor)(nil)

// Call invokes method of the component at path (or of the replica at
// path) with JSON args on a ready replica, through the replicas' own
// transport (the JSON entry point of package jsoncall), as the operator's
// "pilotage call" asks.
func (s *Supervisor) Call(ctx context.Context, path, method string, args []byte) (*api.CallResult, error) {
	t, err := s.callTarget(path, method)
	if err != nil {
		return nil, err
	}
	what := fmt.Sprintf("call %s.%s on replica %s", shortName(t.component), method, t.replica)
	conn, err := s.calls.conn(ctx, t.addr, s.plan.Deployment)
	if err != nil {
		return nil, api.Errorf(api.CodeUnavailable, "%s: %w", what, err)
	}
	results, appErr, err := jsoncall.Call(ctx, conn, t.component, method, args)
	switch {
	case err == nil:
	case errors.Is(err, codegen.ErrJSONArguments):
		return nil, api.Wrap(api.CodeBadRequest, err.Error(), err) // it names the call already
	case errors.Is(err, codegen.ErrUnavailable), errors.Is(err, codegen.ErrInterrupted), ctx.Err() != nil:
		return nil, api.Errorf(api.CodeUnavailable, "%s: %w", what, err)
	default:
		return nil, api.Errorf(api.CodeInternal, "%s: %w", what, err)
	}
	if results == nil {
		results = json.RawMessage("null")
	}
	res := &api.CallResult{Component: t.component, Method: method, Replica: t.replica, Result: results}
	if appErr != nil {
		res.Error = appErr.Error()
	}
	return res, nil
}

// A callTarget is where a call goes.
type callTarget struct {
	component string // full name
	replica   string // log source of the replica
	addr      string // its RPC address
}

// callTarget checks that method is one of the component's at path and
// picks the replica to call: the one path names, else the next ready
// replica of the component's group in turn.
func (s *Supervisor) callTarget(path, method string) (callTarget, error) {
	elems, err := api.Split(path)
	if err != nil {
		return callTarget{}, err
	}
	if len(elems) < 4 || elems[2] != api.Components {
		return callTarget{}, api.Errorf(api.CodeBadRequest, "%s is not a component: call a method of /apps/<app>/components/<c>", path)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, sl, full, err := s.locate(path)
	if err != nil {
		return callTarget{}, err
	}
	comp := s.plan.comps[full]
	name := elems[3]
	if !hasMethod(comp.Methods, method) {
		return callTarget{}, api.Errorf(api.CodeBadRequest, "component %s has no method %q (%s)", name, method, methodNames(comp))
	}
	t := callTarget{component: full}
	if sl != nil {
		if !sl.p.serving() || sl.p.rpcAddr == "" {
			return callTarget{}, api.Errorf(api.CodeUnavailable, "replica %s is not ready: %s", sl.source(), strings.ToLower(string(slotWire(sl))))
		}
		t.replica, t.addr = sl.source(), sl.p.rpcAddr
		return t, nil
	}
	var ready []*slot
	for _, sl := range n.slots {
		if sl.p.serving() && sl.p.rpcAddr != "" {
			ready = append(ready, sl)
		}
	}
	if len(ready) == 0 {
		return callTarget{}, api.Errorf(api.CodeUnavailable, "component %s has no ready replica: %s", name, outage(n).Reason)
	}
	sl = ready[s.calls.turn()%uint64(len(ready))]
	t.replica, t.addr = sl.source(), sl.p.rpcAddr
	return t, nil
}

func hasMethod(ms []api.Method, name string) bool {
	for _, m := range ms {
		if m.Name == name {
			return true
		}
	}
	return false
}

// methodNames says which methods comp has, for an error.
func methodNames(comp *Component) string {
	if len(comp.Methods) == 0 {
		if comp.Main {
			return "the main component has none"
		}
		return `none is described: it has none, or its generated code predates calls ("pilotage generate" again, and rebuild)`
	}
	names := make([]string, len(comp.Methods))
	for i, m := range comp.Methods {
		names[i] = m.Name
	}
	return "its methods: " + strings.Join(names, ", ")
}

// apiMethods returns the methods of a component as the control API shows
// them.
func apiMethods(ms []graph.Method) []api.Method {
	out := make([]api.Method, 0, len(ms))
	for _, m := range ms {
		am := api.Method{Name: m.Name, Params: make([]api.Param, 0, len(m.Params)), Results: append([]string{}, m.Results...)}
		for _, p := range m.Params {
			am.Params = append(am.Params, api.Param{Name: p.Name, Type: p.Type})
		}
		out = append(out, am)
	}
	return out
}

// callConns are the RPC connections of operators' calls: one per replica
// address, made on first use and replaced once dead (its process exited)
// or draining (stopping). The zero value is ready to use.
type callConns struct {
	mu    sync.Mutex
	conns map[string]*rpc.Conn
	next  uint64 // round robin over a group's ready replicas
}

// turn returns the next turn of the round robin.
func (cc *callConns) turn() uint64 {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.next++
	return cc.next - 1
}

// conn returns a live connection to the replica at addr ("unix:/path" or
// "tcp:host:port"), which runs deployment.
func (cc *callConns) conn(ctx context.Context, addr, deployment string) (*rpc.Conn, error) {
	cc.mu.Lock()
	for a, c := range cc.conns { // those of replicas gone, whatever their address
		if !usable(c) {
			delete(cc.conns, a)
			c.Close()
		}
	}
	c := cc.conns[addr]
	cc.mu.Unlock()
	if c != nil {
		return c, nil
	}
	network, address, ok := strings.Cut(addr, ":")
	if !ok || (network != "unix" && network != "tcp") {
		return nil, fmt.Errorf("bad RPC address %q", addr)
	}
	c, err := rpc.Dial(ctx, network, address, rpc.DialOptions{Deployment: deployment})
	if err != nil {
		return nil, err
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if old := cc.conns[addr]; old != nil && usable(old) {
		c.Close() // another call dialed meanwhile
		return old, nil
	}
	if cc.conns == nil {
		cc.conns = map[string]*rpc.Conn{}
	}
	cc.conns[addr] = c
	return c, nil
}

// usable reports whether c takes new calls.
func usable(c *rpc.Conn) bool {
	select {
	case <-c.Done():
		return false
	default:
		return !c.Draining()
	}
}
