package api

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// A Kind names the type of a resource, and so of its status.
type Kind string

// The kinds of resources, with the type of their status.
const (
	KindCollection Kind = "Collection" // CollectionStatus
	KindApp        Kind = "App"        // AppStatus
	KindComponent  Kind = "Component"  // ComponentStatus
	KindReplica    Kind = "Replica"    // ReplicaStatus
	KindGroup      Kind = "Group"      // GroupStatus
	KindUnit       Kind = "Unit"       // UnitStatus
	KindListener   Kind = "Listener"   // ListenerStatus
	KindStartup    Kind = "Startup"    // StartupStatus
)

// Actions a resource may accept (Resource.Actions).
const (
	ActionStop    = "stop"
	ActionStart   = "start"
	ActionRestart = "restart"
)

// A Resource is one node of the tree.
type Resource struct {
	Kind            Kind   `json:"kind"`
	Path            string `json:"path"` // clean (see Clean)
	Name            string `json:"name"` // Base(Path)
	ResourceVersion uint64 `json:"resource_version"`
	// Actions are those POST /v2/act accepts for it; empty for none.
	Actions []string `json:"actions,omitempty"`
	// Status is the JSON of the status type of Kind.
	Status json.RawMessage `json:"status,omitempty"`
}

// NewResource returns the resource of kind at path (which must be clean)
// with status encoded, and the actions it accepts.
func NewResource(kind Kind, path string, status any, actions ...string) (Resource, error) {
	r := Resource{Kind: kind, Path: path, Name: Base(path), Actions: actions}
	if status != nil {
		b, err := json.Marshal(status)
		if err != nil {
			return Resource{}, fmt.Errorf("resource %s: %w", path, err)
		}
		r.Status = b
	}
	return r, nil
}

// DecodeStatus decodes r's status into v, which should be a pointer to
// the status type of r.Kind.
func (r *Resource) DecodeStatus(v any) error {
	if len(r.Status) == 0 {
		return fmt.Errorf("resource %s has no status", r.Path)
	}
	if err := json.Unmarshal(r.Status, v); err != nil {
		return fmt.Errorf("resource %s: status: %w", r.Path, err)
	}
	return nil
}

// Accepts reports whether r accepts action.
func (r *Resource) Accepts(action string) bool { return slices.Contains(r.Actions, action) }

// A List is the answer of GET /v2/list: resources as of one version.
type List struct {
	// ResourceVersion is the version the list is consistent with: a
	// watch from it delivers every change made after the list.
	ResourceVersion uint64     `json:"resource_version"`
	Now             time.Time  `json:"now"` // the supervisor's clock when it answered, for ages
	Items           []Resource `json:"items"`
}

// An EventType says what an Event reports.
type EventType string

// The types of events of a watch.
const (
	Added    EventType = "ADDED"
	Modified EventType = "MODIFIED"
	Deleted  EventType = "DELETED" // Resource is the last state, at the version of its deletion
	// Bookmark carries only a version: nothing the watch covers changed
	// up to it. A watch sends one after a quiet while, so that a client
	// resuming from its last version is not told it expired because of
	// changes it does not watch.
	Bookmark EventType = "BOOKMARK"
	// Error ends a watch: Error says why (CodeExpired: the client fell
	// further behind than the supervisor's history; list again).
	ErrorEvent EventType = "ERROR"
)

// An Event is one line of a watch.
type Event struct {
	Type EventType `json:"type"`
	// ResourceVersion is the version a watch resumes after: that of the
	// change, or, for the ADDED events that begin a watch without a
	// version, the version of that look (the resource's own is in
	// Resource).
	ResourceVersion uint64    `json:"resource_version"`
	Resource        *Resource `json:"resource,omitempty"`
	Error           *Error    `json:"error,omitempty"`
}

// An ActionResult is the answer of POST /v2/act.
type ActionResult struct {
	Path       string   `json:"path"`
	Action     string   `json:"action"`
	Group      string   `json:"group"`      // the process group acted on (or the unit)
	Components []string `json:"components"` // full names of the components of that group
	State      State    `json:"state"`      // once the action settled, or when the wait ended
	Settled    bool     `json:"settled"`    // false: the wait ended first and State is not final
	Message    string   `json:"message"`    // one line for humans
	// Lock, for a release, is the lock as it was held just before it was
	// taken from its holder; nil if it was free by then.
	Lock *LockStatus `json:"lock,omitempty"`
}

// A LogLine is one line of GET /v2/logs: a record of a process's output,
// or, when following, a marker that the stored lines have all been sent
// and what follows is live.
type LogLine struct {
	Time     time.Time `json:"time,omitzero"`
	Source   string    `json:"source,omitempty"` // "catalog.Catalog/1", "redis", "pilotage" (the supervisor)
	Message  string    `json:"message,omitempty"`
	CaughtUp bool      `json:"caught_up,omitempty"`
	// Width is how wide "pilotage logs" pads source names at this line:
	// the longest of the first line of each source the stream began
	// with, and of the sources since.
	Width int `json:"width,omitempty"`
	// Error, on the last line of a stream, says why it ended early.
	Error *Error `json:"error,omitempty"`
}
