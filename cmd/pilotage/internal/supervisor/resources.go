package supervisor

import (
	"encoding/json"
	"os"
	"strconv"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
)

var _ control.Backend = (*Supervisor)(nil)

// Snapshot returns the supervisor's resources for the control API (see
// package api for the tree).
func (s *Supervisor) Snapshot() []control.Item { return s.resources(nil) }

// Changed returns the channel notifyChange signals.
func (s *Supervisor) Changed() <-chan struct{} { return s.changes }

// notifyChange tells the control API that the state changed. It never
// blocks: notifications coalesce.
func (s *Supervisor) notifyChange() {
	select {
	case s.changes <- struct{}{}:
	default:
	}
}

// A treeBuilder collects the resources of a snapshot.
type treeBuilder struct {
	items []control.Item
	err   error
}

// add adds the resource of kind at the path of elems, with status and
// actions, and live (see control.Item) if not nil.
func (b *treeBuilder) add(kind api.Kind, status, live any, elems []string, actions ...string) {
	r, err := api.NewResource(kind, api.Join(elems...), status, actions...)
	if err != nil && b.err == nil {
		b.err = err
	}
	it := control.Item{Resource: r}
	if live != nil {
		if it.Live, err = json.Marshal(live); err != nil && b.err == nil {
			b.err = err
		}
	}
	b.items = append(b.items, it)
}

var nodeActions = []string{api.ActionStop, api.ActionStart, api.ActionRestart}

// resources returns the tree of the app, with problems (of its state
// directory) in the app's status.
func (s *Supervisor) resources(problems []string) []control.Item {
	s.mu.Lock()
	defer s.mu.Unlock()
	app := []string{api.Apps, s.plan.App}
	at := func(more ...string) []string { return append(append([]string{}, app...), more...) }
	b := &treeBuilder{}
	b.add(api.KindApp, s.appStatus(problems), nil, app)
	for _, c := range []string{api.Components, api.Groups, api.Units, api.Listeners} {
		b.add(api.KindCollection, nil, nil, at(c))
	}
	elems := s.componentElems()
	serving := map[string][]string{} // listener -> components
	for _, n := range s.nodes {
		state, why := nodeWire(n)
		ready := 0
		for _, sl := range n.slots {
			if sl.p.serving() {
				ready++
			}
		}
		if n.IsUnit() {
			probe := probeTarget(n)
			u := api.UnitStatus{Command: append([]string{n.Unit.Command}, n.Unit.Args...), Restart: restartPolicy(n.Unit),
				Probe: probe, State: state, Why: why, Replicas: len(n.slots), ReadyReplicas: ready,
				Restarts: n.restarts, After: nonNil(n.Deps), Addresses: []string{}, LastError: n.lastErr,
				StartedAt: n.startedAt, ReadyAt: n.readyAt, Order: n.order}
			if probe != "" {
				u.Addresses = append(u.Addresses, probe)
			}
			b.add(api.KindUnit, u, nil, at(api.Units, n.Name), nodeActions...)
			for _, sl := range n.slots {
				b.add(api.KindReplica, s.replicaStatus(sl), nil, at(api.Units, n.Name, api.Replicas, strconv.Itoa(sl.index)), api.ActionRestart)
			}
			continue
		}
		b.add(api.KindGroup, api.GroupStatus{Components: nonNil(n.Components), Main: n.Main, State: state, Why: why,
			Replicas: len(n.slots), ReadyReplicas: ready, Restarts: n.restarts, After: nonNil(n.Deps), Listeners: nonNil(n.Listeners),
			LastError: n.lastErr, StartedAt: n.startedAt, ReadyAt: n.readyAt, RestartDependents: n.RestartDependents, Order: n.order},
			nil, at(api.Groups, n.Name), nodeActions...)
		for _, full := range n.Components {
			comp := s.plan.comps[full]
			c := api.ComponentStatus{FullName: full, Group: n.Name, Colocated: []string{}, Main: comp.Main, State: state, Why: why,
				Replicas: len(n.slots), ReadyReplicas: ready, Restarts: n.restarts, Refs: nonNil(comp.Refs), After: nonNil(n.Deps),
				Listeners: nonNil(comp.Listeners), Addresses: []string{}, LastError: n.lastErr, StartedAt: n.startedAt,
				ReadyAt: n.readyAt, RestartDependents: n.RestartDependents, Order: n.order, Config: s.compConfig[full],
				CircuitOpenIn: s.circuitOpenIn(full)}
			c.Methods = comp.Methods // never changed: shared with every snapshot
			for _, other := range n.Components {
				if other != full {
					c.Colocated = append(c.Colocated, shortName(other))
				}
			}
			for _, l := range comp.Listeners {
				if px := s.proxy(l); px != nil {
					c.Addresses = append(c.Addresses, px.addr())
				}
				serving[l] = append(serving[l], full)
			}
			b.add(api.KindComponent, c, nil, at(api.Components, elems[full]), nodeActions...)
			for _, sl := range n.slots {
				r := s.replicaStatus(sl)
				r.EjectedBy = s.ejectedBy(full, r.RPCAddress)
				b.add(api.KindReplica, r, nil, at(api.Components, elems[full], api.Replicas, strconv.Itoa(sl.index)), api.ActionRestart)
			}
		}
	}
	for _, px := range s.proxies {
		p := px.status()
		key := api.ListenerStatus{Address: p.Address, Components: nonNil(serving[p.Listener]), Backends: nonNil(p.Backends),
			Outage: p.Outage, MaxConnections: p.MaxConnections}
		live := key
		live.Connections, live.Refused, live.Unavailable = p.Connections, p.Refused, p.Unavailable
		live.AcceptError, live.AcceptErrorAt = p.AcceptError, p.AcceptErrorAt
		b.add(api.KindListener, key, live, at(api.Listeners, p.Listener))
	}
	b.add(api.KindStartup, api.StartupStatus{Units: s.startup(elems)}, nil, at(api.Startup))
	b.items = append(b.items, s.coordItems()...)
	if b.err != nil { // a bug: every status encodes
		s.out.logf("control API: %v", b.err)
	}
	return b.items
}

// appStatus returns the status of the app. s.mu is held.
func (s *Supervisor) appStatus(problems []string) api.AppStatus {
	st := api.AppStatus{State: api.Ready, PID: os.Getpid(), StateDir: s.opts.StateDir, Deployment: s.plan.Deployment,
		Started: s.started, ReadyAt: s.readyAt, Problems: problems, Coordination: s.coord.status()}
	switch {
	case s.shutting:
		st.State = api.Stopping
	case s.readyAt.IsZero():
		st.State = api.Starting
	default:
		for _, n := range s.nodes {
			if state, _ := nodeWire(n); n.want && state != api.Ready && state != api.Completed {
				st.State = api.Degraded
			}
		}
	}
	return st
}

// replicaStatus returns the status of the replica of sl. s.mu is held.
func (s *Supervisor) replicaStatus(sl *slot) api.ReplicaStatus {
	r := api.ReplicaStatus{Index: sl.index, Group: sl.node.Name, Source: sl.source(), State: slotWire(sl), Why: sl.why, Restarts: sl.restarts}
	if p := sl.p; p != nil {
		r.PID, r.RPCAddress, r.Started = p.pid, p.rpcAddr, p.started
		if len(p.listeners) > 0 {
			r.Listeners = map[string]string{}
			for k, v := range p.listeners {
				r.Listeners[k] = v
			}
		}
	}
	return r
}

// componentElems returns the path element of every component: its short
// name, or its full name if another component has the same short name.
func (s *Supervisor) componentElems() map[string]string {
	count := map[string]int{}
	for _, c := range s.plan.Components {
		count[c.Short]++
	}
	out := make(map[string]string, len(s.plan.Components))
	for _, c := range s.plan.Components {
		out[c.Name] = c.Short
		if count[c.Short] > 1 {
			out[c.Name] = c.Name
		}
	}
	return out
}

// proxy returns the proxy of listener name, or nil.
func (s *Supervisor) proxy(name string) *proxy {
	for _, px := range s.proxies {
		if px.name == name {
			return px
		}
	}
	return nil
}

// startup returns, per component and unit in start order, when its
// current activation started and became ready, and what it waited for.
// s.mu is held.
func (s *Supervisor) startup(elems map[string]string) []api.StartupUnit {
	out := []api.StartupUnit{}
	for _, n := range s.nodes {
		if n.IsUnit() {
			out = append(out, api.StartupUnit{Name: n.Name, Path: api.Join(api.Apps, s.plan.App, api.Units, n.Name),
				Start: n.startedAt, Ready: n.readyAt, After: append([]string{}, n.Deps...)})
			continue
		}
		for _, c := range n.Components {
			// The first component of a process to start also pays for the
			// process starting; the others of a colocated group start
			// when their Init begins.
			start, ready := n.startedAt, n.readyAt
			if t, ok := n.compStart[c]; ok && !firstToStart(n.compStart, t) {
				start = t
			}
			if t, ok := n.compReady[c]; ok {
				ready = t
			}
			var after []string
			for _, r := range s.plan.comps[c].Refs {
				after = appendUnique(after, shortName(r))
			}
			for _, d := range n.deps {
				if d.IsUnit() {
					after = appendUnique(after, d.Name)
				}
			}
			out = append(out, api.StartupUnit{Name: shortName(c), Path: api.Join(api.Apps, s.plan.App, api.Components, elems[c]),
				Start: start, Ready: ready, After: after})
		}
	}
	return out
}

// nonNil returns s, or an empty slice for nil, which JSON shows as []. The
// slices it is given are the plan's, never changed, or encoded at once.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// locate returns the node, and the replica slot if path names one, of a
// resource path of the app. s.mu is held.
func (s *Supervisor) locate(path string) (n *node, sl *slot, asked string, err error) {
	elems, err := api.Split(path)
	if err != nil {
		return nil, nil, "", err
	}
	notFound := api.Errorf(api.CodeNotFound, "no resource at %s", path)
	if len(elems) < 4 || elems[0] != api.Apps || elems[1] != s.plan.App {
		return nil, nil, "", notFound
	}
	switch elems[2] {
	case api.Components:
		for full, e := range s.componentElems() {
			if e == elems[3] {
				n, asked = s.byName[s.plan.byComp[full].Name], full
			}
		}
	case api.Groups, api.Units:
		if m := s.byName[elems[3]]; m != nil && m.IsUnit() == (elems[2] == api.Units) {
			n, asked = m, m.Name
		}
	}
	if n == nil {
		return nil, nil, "", notFound
	}
	switch {
	case len(elems) == 4:
		return n, nil, asked, nil
	case len(elems) == 6 && elems[4] == api.Replicas && elems[2] != api.Groups:
		if i, err := strconv.Atoi(elems[5]); err == nil && i >= 0 && i < len(n.slots) && strconv.Itoa(i) == elems[5] {
			return n, n.slots[i], asked, nil
		}
	}
	return nil, nil, "", notFound
}

// logSources returns the log sources of the processes under path, or nil
// for all of them (the app, or a collection).
func (s *Supervisor) logSources(path string) ([]string, error) {
	elems, err := api.Split(path)
	if err != nil {
		return nil, err
	}
	if len(elems) <= 3 {
		return nil, nil
	}
	if elems[2] != api.Components && elems[2] != api.Groups && elems[2] != api.Units {
		return nil, api.Errorf(api.CodeBadRequest, "%s has no logs: ask for those of the app, a component, group, unit or replica", path)
	}
	s.mu.Lock()
	n, sl, _, err := s.locate(path)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	src := n.Name
	if elems[2] == api.Components {
		src = elems[3] // its short name, or its full name if shared: selects its group's sources
	}
	if sl != nil && !n.IsUnit() {
		src += "/" + strconv.Itoa(sl.index)
	}
	return []string{src}, nil
}

// firstToStart reports whether t is the earliest of starts.
func firstToStart(starts map[string]time.Time, t time.Time) bool {
	for _, other := range starts {
		if other.Before(t) {
			return false
		}
	}
	return true
}
