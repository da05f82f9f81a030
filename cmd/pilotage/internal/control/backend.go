package control

import (
	"context"
	"encoding/json"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
)

// A Backend is what a Server serves: the supervisor.
type Backend interface {
	// Snapshot returns the resources of the tree as they are now, in any
	// order and without resource versions (the server assigns them). A
	// collection that holds nothing is listed to exist; the server makes
	// up the other collections, the ancestors of every resource, and
	// counts the items of all of them.
	Snapshot() []Item
	// Changed returns a channel that receives a value after the tree
	// changed; changes may be coalesced, and the server also looks for
	// changes now and then while someone watches.
	Changed() <-chan struct{}
	// Act performs action on the resource at path, which the server
	// checked exists and accepts it, and returns once it settled or ctx
	// is done (then with Settled false). An *api.Error in its error's
	// chain sets the code of the answer.
	Act(ctx context.Context, path, action string) (*api.ActionResult, error)
	// Logs calls emit with the log lines of the processes under path (an
	// existing resource) that q selects, oldest first; with q.Follow, then
	// with a line whose CaughtUp is set, then with new lines until ctx is
	// done (and returns nil). It returns emit's first error.
	Logs(ctx context.Context, path string, q LogQuery, emit func(api.LogLine) error) error
}

// An Item is one resource of a Backend's snapshot.
type Item struct {
	Resource api.Resource
	// Live, if set, is served in place of Resource.Status, but only
	// Resource.Status is compared for changes: for counters that change
	// too often to be events (a listener's connections). Gets and lists
	// serve the latest Live; an event carries the one of its change.
	Live json.RawMessage
}

// A LogQuery selects log lines (GET /v2/logs).
type LogQuery struct {
	Tail    int       // only the last Tail stored lines (0: all)
	Since   time.Time // only lines at or after Since (zero: all)
	Follow  bool      // then new lines, until the request ends
	Sources []string  // only these sources, as logstore.Query.Sources; empty: all under the path
}

// How long POST /v2/act waits for the action to settle: the query
// parameter wait (a duration, at most MaxActionWait), else
// DefaultActionWait. A client should wait a little longer than that, to
// get the answer saying the action has not settled.
const (
	DefaultActionWait = 30 * time.Second
	MaxActionWait     = 10 * time.Minute
)

// ErrNotFound is wrapped by a backend's error for an unknown component or
// unit; it matches api.ErrNotFound.
var ErrNotFound = api.NewError(api.CodeNotFound, "no such component or unit")

// ErrAmbiguous is wrapped by a backend's error for a short name several
// components share; it matches api.ErrBadRequest.
var ErrAmbiguous = api.NewError(api.CodeBadRequest, "ambiguous name")
