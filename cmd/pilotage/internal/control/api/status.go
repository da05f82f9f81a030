package api

import (
	"encoding/json"
	"time"
)

// A State is where a component, group, unit, replica or app stands. The
// values are the API's own: a supervisor maps its internal states onto
// them, and a client meeting a value it does not know (from a newer
// supervisor) should show it as it is and treat it as Unknown.
type State string

// The states.
const (
	// Starting: starting, or waiting for what it depends on (Why says
	// which), or queued behind other processes starting.
	Starting State = "Starting"
	// Ready: every replica serves.
	Ready State = "Ready"
	// Degraded: some replicas serve and others are down (Why says which);
	// for an app, something that should run does not serve.
	Degraded State = "Degraded"
	// Restarting: being restarted, on request (rolling, one replica at a
	// time) or after a crash, with backoff.
	Restarting State = "Restarting"
	// Unresponsive: a replica that stopped answering the supervisor's
	// pings: out of routing, and killed if it stays silent.
	Unresponsive State = "Unresponsive"
	// Stopping: stop requested, processes still exiting.
	Stopping State = "Stopping"
	// Stopped: not running, and not restarted unless started.
	Stopped State = "Stopped"
	// Completed: finished its work: the main component whose app
	// function returned, or a unit that exited with status 0 and is not
	// restarted.
	Completed State = "Completed"
	// Failed: crashed past its start limit (retried after a cool-down),
	// or a unit whose restart policy gave up.
	Failed State = "Failed"
	// Unknown: a state this version of the API cannot name.
	Unknown State = "Unknown"
)

// CollectionStatus is the status of a Collection.
type CollectionStatus struct {
	Items int `json:"items"` // resources directly in it
}

// AppStatus is the status of an App.
type AppStatus struct {
	State    State  `json:"state"`     // Starting until first ready; Ready, Degraded; Stopping at shutdown
	PID      int    `json:"pid"`       // the supervisor's
	StateDir string `json:"state_dir"` // its state directory
	// Deployment names the build running: every RPC connection between
	// its processes carries it ("shop-1a2b3c4d5e6f").
	Deployment string    `json:"deployment,omitempty"`
	Started    time.Time `json:"started"`
	ReadyAt    time.Time `json:"ready_at,omitzero"` // when every replica first became ready
	// Problems are what went wrong with the supervisor itself (its state
	// directory removed, its lock taken), one line each, oldest first.
	Problems []string `json:"problems,omitempty"`
	// Coordination is where the app's coordination store is; absent until
	// it is ready.
	Coordination *CoordinationStatus `json:"coordination,omitempty"`
}

// CoordinationStatus says where an app's coordination store is.
type CoordinationStatus struct {
	// Embedded: an etcd server the supervisor runs, its data in the
	// state directory; else an external cluster ([coordination]
	// endpoints).
	Embedded  bool     `json:"embedded,omitempty"`
	Endpoints []string `json:"endpoints"` // etcd client URLs: the embedded one's Unix socket
	Prefix    string   `json:"prefix"`    // of every key of the app
}

// ComponentStatus is the status of a Component. Its replicas are those of
// its group (a colocated group's processes host every component of it).
type ComponentStatus struct {
	FullName          string    `json:"full_name"`
	Group             string    `json:"group"`     // the name of its group
	Colocated         []string  `json:"colocated"` // short names of the other components of its group
	Main              bool      `json:"main,omitempty"`
	State             State     `json:"state"`
	Why               string    `json:"why,omitempty"` // why it is not ready
	Replicas          int       `json:"replicas"`      // wanted
	ReadyReplicas     int       `json:"ready_replicas"`
	Restarts          int       `json:"restarts"` // automatic restarts of its replicas, ever
	Refs              []string  `json:"refs"`     // full names of the components it calls
	After             []string  `json:"after"`    // groups and units it waits for
	Listeners         []string  `json:"listeners"`
	Addresses         []string  `json:"addresses"` // public addresses of its listeners
	LastError         string    `json:"last_error,omitempty"`
	StartedAt         time.Time `json:"started_at,omitzero"` // of the current activation
	ReadyAt           time.Time `json:"ready_at,omitzero"`
	RestartDependents bool      `json:"restart_dependents,omitempty"`
	// Order is its group's place in start order (0 first); components
	// of one group share it.
	Order int `json:"order"`
	// Methods are the methods of its interface, sorted by name: what
	// POST /v2/call may invoke. Empty for the main component, and for a
	// binary generated before methods were described.
	Methods []Method `json:"methods"`
	// Config is its [components."<name>"] section of the app's
	// configuration file as a JSON object; absent if it has none.
	Config json.RawMessage `json:"config,omitempty"`
	// CircuitOpenIn names the replicas ("front.Front/0") whose calls to it
	// fail at once because they ejected every one of its replicas.
	CircuitOpenIn []string `json:"circuit_open_in,omitempty"`
}

// GroupStatus is the status of a Group: the components one process hosts.
type GroupStatus struct {
	Components        []string  `json:"components"` // full names
	Main              bool      `json:"main,omitempty"`
	State             State     `json:"state"`
	Why               string    `json:"why,omitempty"`
	Replicas          int       `json:"replicas"`
	ReadyReplicas     int       `json:"ready_replicas"`
	Restarts          int       `json:"restarts"`
	After             []string  `json:"after"`
	Listeners         []string  `json:"listeners"`
	LastError         string    `json:"last_error,omitempty"`
	StartedAt         time.Time `json:"started_at,omitzero"`
	ReadyAt           time.Time `json:"ready_at,omitzero"`
	RestartDependents bool      `json:"restart_dependents,omitempty"`
	Order             int       `json:"order"`
}

// UnitStatus is the status of a Unit: a [units] program.
type UnitStatus struct {
	Command       []string  `json:"command"` // program and arguments
	Restart       string    `json:"restart"` // policy: always, on-failure, no
	Probe         string    `json:"probe,omitempty"`
	State         State     `json:"state"`
	Why           string    `json:"why,omitempty"`
	Replicas      int       `json:"replicas"` // 1
	ReadyReplicas int       `json:"ready_replicas"`
	Restarts      int       `json:"restarts"`
	After         []string  `json:"after"`
	Addresses     []string  `json:"addresses"` // its probe's target
	LastError     string    `json:"last_error,omitempty"`
	StartedAt     time.Time `json:"started_at,omitzero"`
	ReadyAt       time.Time `json:"ready_at,omitzero"`
	Order         int       `json:"order"`
}

// ReplicaStatus is the status of a Replica: one process slot of a group
// or unit, whose process comes and goes.
type ReplicaStatus struct {
	Index      int               `json:"index"`
	Group      string            `json:"group"`  // or unit
	Source     string            `json:"source"` // its name in logs: "cart.Cart/1", "redis"
	State      State             `json:"state"`
	Why        string            `json:"why,omitempty"`
	PID        int               `json:"pid,omitempty"`
	RPCAddress string            `json:"rpc_address,omitempty"`
	Listeners  map[string]string `json:"listeners,omitempty"` // listener -> the replica's own address
	Started    time.Time         `json:"started,omitzero"`    // of its current process
	Restarts   int               `json:"restarts"`
	// EjectedBy names the replicas ("front.Front/0") that ejected this one
	// from their pool of the component it is listed under, for failing or
	// timing out: they send it no calls but probes until it recovers.
	EjectedBy []string `json:"ejected_by,omitempty"`
}

// ListenerStatus is the status of a Listener: a public address the
// supervisor serves and balances over the replicas serving it. Its
// counters are current in a get or list; a change of counters alone is
// not an event.
type ListenerStatus struct {
	Address        string    `json:"address"`
	Components     []string  `json:"components"`       // full names of those serving it
	Backends       []string  `json:"backends"`         // listener addresses of ready replicas
	Outage         string    `json:"outage,omitempty"` // why there is no backend
	Connections    int       `json:"connections"`
	MaxConnections int       `json:"max_connections"`
	Refused        int64     `json:"refused,omitempty"`     // at the limit, ever
	Unavailable    int64     `json:"unavailable,omitempty"` // answered 503 or reset for want of a backend, ever
	AcceptError    string    `json:"accept_error,omitempty"`
	AcceptErrorAt  time.Time `json:"accept_error_at,omitzero"`
}

// StartupStatus is the status of Startup: how the current activation of
// each group and unit started, for a critical chain.
type StartupStatus struct {
	Units []StartupUnit `json:"units"` // in start order
}

// A StartupUnit is the startup of one component (the first of a process
// to start also pays for the process starting) or unit.
type StartupUnit struct {
	Name  string    `json:"name"` // a component's short name, or a unit's
	Path  string    `json:"path"`
	Start time.Time `json:"start,omitzero"` // zero if never started
	Ready time.Time `json:"ready,omitzero"` // zero if never ready
	After []string  `json:"after"`          // the components and units it waited for
}
