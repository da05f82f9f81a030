// Package proclet is the part of the runtime that lives inside every
// application process started by "pilotage run": it hosts the components of
// one colocation group, serves them to other processes over the RPC
// transport, reaches the components of other groups through the addresses
// the supervisor pushes, and reports its lifecycle to the supervisor.
//
// # Protocol with the supervisor
//
// The supervisor starts the application binary with PILOTAGE_PROCLET set to
// the JSON encoding of Env and, as file descriptor 3, one end of a Unix
// socketpair. Both sides write newline-delimited JSON Messages on it. The
// proclet sends Hello once its RPC server listens, Listening for each
// listener it opens, ComponentStarting/ComponentReady around each
// component's Init, Ready when every hosted component is ready, Unhealthy
// when a health check fails, AppDone when the app function returned nil
// (the process then exits 0 and is not restarted), and Failed just before it
// exits on an error.
// The supervisor sends Routes (the full set of ready addresses of every
// component, and why a component without one has none, whenever it
// changes; the first Routes arrives before the proclet starts any
// component), Ping (answered at once with a Pong carrying the same Seq,
// from the goroutine that reads the socket: a proclet that stops answering
// is taken out of routing, then replaced) and Stop. EOF on the socket
// means the other side is gone: a proclet whose supervisor vanished exits.
//
// PILOTAGE_DESCRIBE=1 makes the binary print a Description of its
// components as JSON on stdout and exit, without starting anything; with
// PILOTAGE_CONFIG set too, the Description also lists the problems of that
// configuration file (see Describe).
package proclet

import "time"

// EnvVar and DescribeEnvVar are the environment variables read by pilotage.Run.
const (
	EnvVar         = "PILOTAGE_PROCLET"
	DescribeEnvVar = "PILOTAGE_DESCRIBE"
	// ControlFD is the file descriptor of the control socket in the proclet.
	ControlFD = 3
)

// Env tells a proclet what to host.
type Env struct {
	App        string            `json:"app"`
	Group      string            `json:"group"`      // the colocation group's name
	Replica    int               `json:"replica"`    // replica number within the group, from 0
	Components []string          `json:"components"` // full names of the hosted components
	Listeners  map[string]string `json:"listeners"`  // listener name -> address to bind ("127.0.0.1:0" if unset)
	RPCAddress string            `json:"rpc_address"`
	// RPCAddress is where to serve RPC, as "unix:/path" or "tcp:127.0.0.1:0".
	ConfigPath string `json:"config_path,omitempty"` // pilotage.toml, for component config
}

// Message is one line on the control socket. Type says which fields are set.
type Message struct {
	Type      string              `json:"type"`
	Time      time.Time           `json:"time,omitzero"`
	PID       int                 `json:"pid,omitempty"`       // Hello
	Address   string              `json:"address,omitempty"`   // Hello: RPC address ("unix:/p" or "tcp:h:p"); Listening: host:port
	Listener  string              `json:"listener,omitempty"`  // Listening
	Component string              `json:"component,omitempty"` // ComponentStarting, ComponentReady
	Error     string              `json:"error,omitempty"`     // Unhealthy, Failed
	Routes    map[string][]string `json:"routes,omitempty"`    // Routes: component full name -> RPC addresses of ready replicas
	Outages   map[string]Outage   `json:"outages,omitempty"`   // Routes: why a component without a ready replica has none
	Seq       uint64              `json:"seq,omitempty"`       // Ping, Pong
}

// An Outage says why a component has no ready replica.
type Outage struct {
	Reason string `json:"reason"` // "stopped", "restarting: killed by signal killed", ...
	// Transient means replicas are starting or restarting: callers wait
	// for one (within their deadline, and a bound) rather than fail at once.
	Transient bool `json:"transient,omitempty"`
}

// Message types.
const (
	Hello             = "hello"
	Listening         = "listening"
	ComponentStarting = "component_starting"
	ComponentReady    = "component_ready"
	Ready             = "ready"
	Unhealthy         = "unhealthy"
	AppDone           = "app_done"
	Failed            = "failed"
	Routes            = "routes"
	Ping              = "ping"
	Pong              = "pong"
	Stop              = "stop"
)

// Description lists an application's components, for the supervisor.
type Description struct {
	Components []ComponentInfo `json:"components"`
	// ConfigErrors are the problems of the configuration file named by
	// $PILOTAGE_CONFIG in the describe run, checked against the components
	// (host.CheckConfig), one per entry: "file:line:col: message".
	ConfigErrors []string `json:"config_errors,omitempty"`
}

// ComponentInfo describes one component.
type ComponentInfo struct {
	Name      string   `json:"name"`      // full name, "import/path.Interface"
	Refs      []string `json:"refs"`      // full names of the components it holds Refs to
	Listeners []string `json:"listeners"` // names of its listeners
	Main      bool     `json:"main"`      // the root component, whose process runs the app function
}
