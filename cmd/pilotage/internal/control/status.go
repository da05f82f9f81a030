package control

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
)

// The states of Status and ActionResult, lower-case as "pilotage status"
// prints them: the api.State values of the API, but for Completed, which
// shows as Stopped.
const (
	Starting     = "starting"
	Ready        = "ready"
	Stopping     = "stopping"
	Stopped      = "stopped"
	Failed       = "failed"
	Restarting   = "restarting"
	Degraded     = "degraded"
	Unresponsive = "unresponsive"
)

// statusState returns the Status state of s.
func statusState(s api.State) string {
	if s == api.Completed {
		return Stopped
	}
	return strings.ToLower(string(s))
}

// Status is the state of a running app as "pilotage status" shows it, and
// as "pilotage status -json" prints it: one entry per component and unit,
// in start order. It is made from the API's resources (StatusOf), and
// keeps the shape the v1 API answered with, which scripts read.
type Status struct {
	App      string `json:"app"`
	PID      int    `json:"pid"` // the supervisor's
	StateDir string `json:"state_dir"`
	// Deployment names the build running (api.AppStatus.Deployment).
	Deployment string       `json:"deployment,omitempty"`
	Now        time.Time    `json:"now"`
	Started    time.Time    `json:"started"`
	ReadyAt    time.Time    `json:"ready_at,omitzero"` // when every replica first became ready
	Stopping   bool         `json:"stopping,omitempty"`
	Proxies    []Proxy      `json:"proxies,omitempty"`
	Units      []UnitStatus `json:"units"` // components and [units], in start order
	// Problems are what went wrong with the supervisor itself (its state
	// directory removed, its lock taken), one line each, oldest first.
	Problems []string `json:"problems,omitempty"`
	// Coordination is where the app's coordination store is
	// (api.AppStatus.Coordination).
	Coordination *api.CoordinationStatus `json:"coordination,omitempty"`
}

// Proxy is a listener the supervisor serves and balances over replicas.
type Proxy struct {
	Listener       string    `json:"listener"`
	Address        string    `json:"address"`
	Backends       []string  `json:"backends"`               // listener addresses of ready replicas
	Outage         string    `json:"outage,omitempty"`       // why there is no backend
	Connections    int       `json:"connections"`            // open client connections
	MaxConnections int       `json:"max_connections"`        // more are refused
	Refused        int64     `json:"refused,omitempty"`      // connections refused at the limit, ever
	Unavailable    int64     `json:"unavailable,omitempty"`  // connections answered 503 or reset for want of a backend, ever
	AcceptError    string    `json:"accept_error,omitempty"` // the last accept failure, if recent
	AcceptErrorAt  time.Time `json:"accept_error_at,omitzero"`
}

// UnitStatus is one component or [units] program.
type UnitStatus struct {
	Name       string          `json:"name"`          // component short name, or unit name
	Kind       string          `json:"kind"`          // "component" or "unit"
	FullName   string          `json:"full_name"`     // component full name; unit name
	Group      string          `json:"group"`         // the process group hosting it
	Colocated  []string        `json:"colocated"`     // other components of its group
	State      string          `json:"state"`         // Starting, Ready, ...
	Why        string          `json:"why,omitempty"` // why it is not ready
	Restarts   int             `json:"restarts"`      // automatic restarts so far
	Want       int             `json:"want"`          // replicas wanted
	Addresses  []string        `json:"addresses"`     // public listener addresses, or the probe target
	After      []string        `json:"after"`         // units it waits for
	Replicas   []ReplicaStatus `json:"replicas"`      // one per replica slot
	LastError  string          `json:"last_error,omitempty"`
	StartedAt  time.Time       `json:"started_at,omitzero"`
	ReadyAt    time.Time       `json:"ready_at,omitzero"`
	Listeners  []string        `json:"listeners,omitempty"` // names of its listeners
	RestartDep bool            `json:"restart_dependents,omitempty"`
	// CircuitOpenIn names the replicas whose calls to this component fail
	// at once: they ejected all its replicas (api.ComponentStatus).
	CircuitOpenIn []string `json:"circuit_open_in,omitempty"`
}

// ReplicaStatus is one replica slot of a group or unit.
type ReplicaStatus struct {
	Index      int               `json:"index"`
	PID        int               `json:"pid,omitempty"`
	State      string            `json:"state"`
	RPCAddress string            `json:"rpc_address,omitempty"`
	Listeners  map[string]string `json:"listeners,omitempty"` // listener -> replica's own address
	Started    time.Time         `json:"started,omitzero"`
	Restarts   int               `json:"restarts"`
	Why        string            `json:"why,omitempty"`
	// EjectedBy names the replicas that ejected this one from their pool
	// for failing or timing out (api.ReplicaStatus).
	EjectedBy []string `json:"ejected_by,omitempty"`
}

// Status returns the status of every component and unit.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	l, err := c.List(ctx, "/", true)
	if err != nil {
		return nil, err
	}
	return StatusOf(l.Items, l.Now)
}

// StatusOf returns the Status of the app among resources (every resource
// of the tree, as a recursive list of "/" has them), as of now.
func StatusOf(resources []api.Resource, now time.Time) (*Status, error) {
	t, err := newTreeView(resources)
	if err != nil {
		return nil, err
	}
	var app api.AppStatus
	if err := t.app.DecodeStatus(&app); err != nil {
		return nil, err
	}
	st := &Status{App: t.app.Name, PID: app.PID, StateDir: app.StateDir, Deployment: app.Deployment, Now: now, Started: app.Started,
		ReadyAt: app.ReadyAt, Stopping: app.State == api.Stopping, Problems: app.Problems, Coordination: app.Coordination, Units: []UnitStatus{}}
	for _, r := range t.kind(api.KindListener) {
		var l api.ListenerStatus
		if err := r.DecodeStatus(&l); err != nil {
			return nil, err
		}
		st.Proxies = append(st.Proxies, Proxy{Listener: r.Name, Address: l.Address, Backends: nonNil(l.Backends), Outage: l.Outage,
			Connections: l.Connections, MaxConnections: l.MaxConnections, Refused: l.Refused, Unavailable: l.Unavailable,
			AcceptError: l.AcceptError, AcceptErrorAt: l.AcceptErrorAt})
	}
	units, err := t.units()
	if err != nil {
		return nil, err
	}
	st.Units = append(st.Units, units...)
	return st, nil
}

// A treeView indexes the resources of one app.
type treeView struct {
	app      *api.Resource
	byPath   map[string]*api.Resource
	children map[string][]*api.Resource // by the path of their parent
	all      []api.Resource
}

func newTreeView(resources []api.Resource) (*treeView, error) {
	t := &treeView{byPath: map[string]*api.Resource{}, children: map[string][]*api.Resource{}, all: resources}
	for i := range resources {
		r := &resources[i]
		t.byPath[r.Path] = r
		parent := api.Parent(r.Path)
		t.children[parent] = append(t.children[parent], r)
		if r.Kind == api.KindApp {
			if t.app != nil {
				return nil, fmt.Errorf("control: the supervisor serves two apps, %s and %s", t.app.Name, r.Name)
			}
			t.app = r
		}
	}
	if t.app == nil {
		return nil, api.Errorf(api.CodeNotFound, "control: the supervisor serves no app")
	}
	return t, nil
}

// kind returns the resources of kind, sorted by path.
func (t *treeView) kind(k api.Kind) []*api.Resource {
	var out []*api.Resource
	for i := range t.all {
		if t.all[i].Kind == k {
			out = append(out, &t.all[i])
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// units returns the components and units in start order: by the order of
// their group or unit, the components of a group in its order.
func (t *treeView) units() ([]UnitStatus, error) {
	type entry struct {
		order, sub int
		u          UnitStatus
	}
	var entries []entry
	groups := map[string]api.GroupStatus{}
	for _, r := range t.kind(api.KindGroup) {
		var g api.GroupStatus
		if err := r.DecodeStatus(&g); err != nil {
			return nil, err
		}
		groups[r.Name] = g
	}
	for _, r := range t.kind(api.KindComponent) {
		var c api.ComponentStatus
		if err := r.DecodeStatus(&c); err != nil {
			return nil, err
		}
		reps, err := t.replicas(r.Path)
		if err != nil {
			return nil, err
		}
		u := UnitStatus{Name: shortName(c.FullName), Kind: "component", FullName: c.FullName, Group: c.Group,
			Colocated: nonNil(c.Colocated), State: statusState(c.State), Why: c.Why, Restarts: c.Restarts, Want: c.Replicas,
			Addresses: nonNil(c.Addresses), After: nonNil(c.After), Replicas: reps, LastError: c.LastError,
			StartedAt: c.StartedAt, ReadyAt: c.ReadyAt, Listeners: c.Listeners, RestartDep: c.RestartDependents, CircuitOpenIn: c.CircuitOpenIn}
		if len(u.Listeners) == 0 {
			u.Listeners = nil
		}
		sub := len(groups[c.Group].Components)
		for i, full := range groups[c.Group].Components {
			if full == c.FullName {
				sub = i
			}
		}
		entries = append(entries, entry{c.Order, sub, u})
	}
	for _, r := range t.kind(api.KindUnit) {
		var us api.UnitStatus
		if err := r.DecodeStatus(&us); err != nil {
			return nil, err
		}
		reps, err := t.replicas(r.Path)
		if err != nil {
			return nil, err
		}
		u := UnitStatus{Name: r.Name, Kind: "unit", FullName: r.Name, Group: r.Name, Colocated: []string{},
			State: statusState(us.State), Why: us.Why, Restarts: us.Restarts, Want: us.Replicas,
			Addresses: nonNil(us.Addresses), After: nonNil(us.After), Replicas: reps, LastError: us.LastError,
			StartedAt: us.StartedAt, ReadyAt: us.ReadyAt}
		entries = append(entries, entry{us.Order, 0, u})
	}
	sort.SliceStable(entries, func(i, j int) bool {
		if entries[i].order != entries[j].order {
			return entries[i].order < entries[j].order
		}
		return entries[i].sub < entries[j].sub
	})
	out := make([]UnitStatus, len(entries))
	for i, e := range entries {
		out[i] = e.u
	}
	return out, nil
}

// replicas returns the replicas of the component or unit at path, by
// index.
func (t *treeView) replicas(path string) ([]ReplicaStatus, error) {
	out := []ReplicaStatus{}
	for _, r := range t.children[path+"/"+api.Replicas] {
		if r.Kind != api.KindReplica {
			continue
		}
		var rs api.ReplicaStatus
		if err := r.DecodeStatus(&rs); err != nil {
			return nil, err
		}
		out = append(out, ReplicaStatus{Index: rs.Index, PID: rs.PID, State: statusState(rs.State), RPCAddress: rs.RPCAddress,
			Listeners: rs.Listeners, Started: rs.Started, Restarts: rs.Restarts, Why: rs.Why, EjectedBy: rs.EjectedBy})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out, nil
}

func shortName(full string) string { return full[strings.LastIndex(full, "/")+1:] }

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
