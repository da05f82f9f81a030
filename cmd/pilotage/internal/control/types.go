package control

import "time"

// Unit states, as in systemd, plus two of replicated components.
const (
	Starting   = "starting"
	Ready      = "ready"
	Stopping   = "stopping"
	Stopped    = "stopped"
	Failed     = "failed"
	Restarting = "restarting"
	// Degraded: some replicas of a component serve, others are down
	// (restarting, failed, unresponsive); Why says which and why.
	Degraded = "degraded"
	// Unresponsive: a replica that stopped answering the supervisor's
	// pings; it takes no calls, and is killed if it stays silent.
	Unresponsive = "unresponsive"
)

// Status is the answer of GET /v1/status.
type Status struct {
	App      string       `json:"app"`
	PID      int          `json:"pid"` // the supervisor's
	StateDir string       `json:"state_dir"`
	Now      time.Time    `json:"now"`
	Started  time.Time    `json:"started"`
	ReadyAt  time.Time    `json:"ready_at,omitzero"` // when every replica first became ready
	Stopping bool         `json:"stopping,omitempty"`
	Proxies  []Proxy      `json:"proxies,omitempty"`
	Units    []UnitStatus `json:"units"` // components and [units], in start order
	// Problems are what went wrong with the supervisor itself (its state
	// directory removed, its lock taken), one line each, oldest first.
	Problems []string `json:"problems,omitempty"`
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
}

// ActionResult is the answer of POST /v1/units/{name}/{op}.
type ActionResult struct {
	Op         string   `json:"op"`
	Name       string   `json:"name"`       // as asked
	Group      string   `json:"group"`      // the process group acted on
	Components []string `json:"components"` // every component of that group
	State      string   `json:"state"`      // the state once the action settled, or when the wait ended
	Settled    bool     `json:"settled"`    // false: the wait limit passed first; State is not final
	Message    string   `json:"message"`    // one line for humans
}

// errorBody is the JSON body of a failed request.
type errorBody struct {
	Error string `json:"error"`
}
