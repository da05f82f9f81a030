// Package tree is the model the pilotage shell operates on: every running
// app and every Kubernetes object as one tree of paths. A provider (an FS)
// serves one subtree: package appfs serves /apps from the supervisors'
// control APIs, package kubefs serves /kube from Kubernetes API servers;
// a Root mounts them. The shell, scripts and a web view all go through
// this one interface.
//
// Paths are absolute and clean, their elements percent-encoded as the
// control API's are (api.Join): /apps/shop/config/limits%2Fapi is the key
// "limits/api". Relative paths, "..", "-", "~" and globs are the shell's
// business: an FS only ever sees clean absolute paths.
package tree

import (
	"context"
	"encoding/json"
	"io"
	"time"
)

// A Node is one entry of the tree, as ls shows it.
type Node struct {
	Path string `json:"path"` // absolute, clean
	Name string `json:"name"` // its last element, decoded
	// Kind is what it is: "Collection", "App", "Component", "Replica",
	// "Pod", "Deployment", "ConfigKey", "File"...
	Kind string `json:"kind"`
	Dir  bool   `json:"dir,omitempty"` // it has children: cd and ls go into it

	// The columns of ls -l; empty where they do not apply.
	State    string    `json:"state,omitempty"`    // "Ready", "Running", "Stopped"...
	Ready    string    `json:"ready,omitempty"`    // "2/3"
	Restarts int       `json:"restarts,omitempty"` // automatic restarts, ever
	Created  time.Time `json:"created,omitzero"`   // for the age column
	// Info is one more line of detail for ls -o wide (a reason, an
	// address, a holder).
	Info string `json:"info,omitempty"`

	// What may be done with it.
	Actions  []string `json:"actions,omitempty"`  // for Act: "stop", "start", "restart", "release"...
	Readable bool     `json:"readable,omitempty"` // cat
	Editable bool     `json:"editable,omitempty"` // edit, put (Write)
	Remove   bool     `json:"removable,omitempty"`
	Logs     bool     `json:"logs,omitempty"` // logs
	Exec     bool     `json:"exec,omitempty"` // exec
	// RemoteExec says Exec runs the command away from this machine (in
	// a pod): with a terminal, the caller puts its own in raw mode and
	// sends its size (see ExecRequest.TTY).
	RemoteExec bool `json:"remote_exec,omitempty"`
	Callable   bool `json:"callable,omitempty"` // call (a component)
}

// Content is what cat shows of a node, and edit starts from.
type Content struct {
	// Value is the node's content: anything that encodes as JSON (a
	// status, a Kubernetes object as map[string]any, a config value as
	// json.RawMessage). The shell prints it as YAML or JSON.
	Value any
	// Version is the version Value was read at: a Kubernetes
	// resourceVersion, an etcd revision. Write with it succeeds only if
	// the node has not changed since; empty if the node is not editable.
	Version string
	// Redacted says secret parts of Value were replaced (ReadOptions.Reveal
	// was false): editing it would write the placeholders back, so the
	// shell refuses to edit a redacted Content.
	Redacted bool
}

// ReadOptions modify Read.
type ReadOptions struct {
	// Reveal returns secret data (a Secret's data, config values marked
	// secret) as it is instead of redacted.
	Reveal bool
}

// LogOptions select the lines of Logs.
type LogOptions struct {
	Follow bool      // keep streaming new lines until ctx ends
	Since  time.Time // only lines from then on; zero for all
	Tail   int       // only the last Tail stored lines; 0 for all
}

// A LogLine is one line of a log, with the path of the node it came from
// (a replica, a container), so that merged logs say whose each line is.
type LogLine struct {
	Time time.Time
	Path string
	Text string
}

// An ExecRequest says what to run in a node (a replica, a container).
type ExecRequest struct {
	Command []string
	Stdin   io.Reader // nil for none; its end half-closes the remote stdin
	Stdout  io.Writer
	Stderr  io.Writer // ignored with TTY (merged into Stdout)
	// TTY asks for a terminal. Stdin and Stdout are then the user's
	// terminal, already in raw mode for a remote exec; Resize delivers
	// its size, first the current one, then each change.
	TTY    bool
	Resize <-chan TermSize
}

// TermSize is a terminal's size in characters.
type TermSize struct{ Width, Height uint16 }

// An EventType says what an Event reports.
type EventType string

// The types of events of Watch.
const (
	Added    EventType = "ADDED"
	Modified EventType = "MODIFIED"
	Deleted  EventType = "DELETED"
)

// An Event is a change of a child of a watched directory.
type Event struct {
	Type EventType
	Node Node
}

// An FS serves a subtree. Every method takes a clean absolute path inside
// it. Errors wrap the sentinels of errors.go (ErrNotFound...), so that the
// shell can say one clear line and choose its exit status; a method a node
// does not support returns an error wrapping ErrNotSupported. Embed
// Unsupported to get those for free.
//
// List and Stat are what completion calls on every Tab: an FS serves them
// from a watch cache once it has one, never with a fresh request per call.
type FS interface {
	// Stat returns the node at path.
	Stat(ctx context.Context, path string) (Node, error)
	// List returns the children of the directory at path, sorted by name.
	List(ctx context.Context, path string) ([]Node, error)
	// Watch calls fn with every change of the children of the directory
	// at path until ctx ends (then it returns nil) or the watch fails.
	Watch(ctx context.Context, path string, fn func(Event)) error
	// Read returns the content of the node at path.
	Read(ctx context.Context, path string, opts ReadOptions) (Content, error)
	// Write replaces the content of the node at path by value (JSON) if
	// its version is still version (empty: whatever it is), and returns
	// the new version. A changed node fails with ErrConflict, a value the
	// node refuses with ErrInvalid (its message says why).
	Write(ctx context.Context, path string, value json.RawMessage, version string) (string, error)
	// Remove deletes the node at path.
	Remove(ctx context.Context, path string) error
	// Act performs action (one of Node.Actions) and returns one line
	// saying how it ended.
	Act(ctx context.Context, path, action string) (string, error)
	// Logs calls fn with the log lines of the node at path (and of every
	// node below it that has logs), oldest first; following, until ctx
	// ends (then it returns nil).
	Logs(ctx context.Context, path string, opts LogOptions, fn func(LogLine) error) error
	// Exec runs req.Command in the node at path and returns its exit
	// status.
	Exec(ctx context.Context, path string, req ExecRequest) (int, error)
	// Call invokes method of the component at path with args (a JSON
	// object of the method's parameters by name) and returns its results
	// as JSON.
	Call(ctx context.Context, path, method string, args json.RawMessage) (json.RawMessage, error)
}
