package appfs

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/state"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// rescanInterval is the least time between two reads of the state
// directories; a variable for tests.
var rescanInterval = time.Second

// An appRef is an app with a state directory, as the tree names it.
type appRef struct {
	id   string // its state directory's name: "shop-1a2b3c4d"
	name string // its name, as its supervisor serves it: "shop"
	dir  string // its state directory
	pid  int    // its supervisor's, if running
	// elem is its path element under /apps: its name if no other
	// running app has it, else its ID.
	elem    string
	running bool
	started time.Time
}

// A registry knows the apps with a state directory, read again at most
// every rescanInterval.
type registry struct {
	root     string // of the state directories; "" if dirEnv is set
	override bool   // $PILOTAGE_STATE_DIR holds the only app there is

	mu      sync.Mutex
	scanned time.Time
	apps    []appRef // sorted by ID
	err     error
}

func newRegistry(root string) *registry {
	r := &registry{root: root}
	if root == "" && os.Getenv(state.StateDirEnv) != "" {
		r.override = true
	}
	return r
}

// list returns every app with a state directory, as of at most
// rescanInterval ago.
func (r *registry) list() ([]appRef, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.scanned.IsZero() && time.Since(r.scanned) < rescanInterval {
		return r.apps, r.err
	}
	r.apps, r.err = r.scan()
	r.scanned = time.Now()
	return r.apps, r.err
}

// scan reads the state directories.
func (r *registry) scan() ([]appRef, error) {
	var apps []state.App
	switch {
	case r.override:
		a, err := state.Find(state.Query{Stopped: true})
		if err != nil {
			return nil, fmt.Errorf("apps: %w", err)
		}
		apps = []state.App{*a}
	default:
		root := r.root
		if root == "" {
			var err error
			if root, err = state.StateRoot(); err != nil {
				return nil, fmt.Errorf("apps: %w", err)
			}
		}
		var err error
		if apps, err = state.Apps(root); err != nil {
			return nil, fmt.Errorf("apps: %w", err)
		}
	}
	names := map[string]int{} // running apps by name
	for _, a := range apps {
		if a.Running {
			names[a.Info.Name]++
		}
	}
	out := make([]appRef, 0, len(apps))
	for _, a := range apps {
		ref := appRef{id: a.ID, name: a.Info.Name, dir: a.StateDir, pid: a.PID, running: a.Running, elem: a.ID, started: a.Info.Started}
		if a.Running && names[a.Info.Name] == 1 {
			ref.elem = a.Info.Name
		}
		out = append(out, ref)
	}
	return out, nil
}

// running returns the apps running, by ID.
func (r *registry) running() ([]appRef, error) {
	all, err := r.list()
	var out []appRef
	for _, a := range all {
		if a.running {
			out = append(out, a)
		}
	}
	return out, err
}

// resolve returns the app that the path element elem of /apps/<elem>
// names: a running app by ID, or by name if no other running app has it.
// An app that is not running is an error wrapping tree.ErrUnavailable
// that says so, one that does not exist one wrapping tree.ErrNotFound.
func (r *registry) resolve(elem, path string) (appRef, error) {
	all, err := r.list()
	if err != nil {
		return appRef{}, err
	}
	var named []appRef
	for _, a := range all {
		if a.running && a.id == elem {
			return a, nil
		}
		if a.running && a.name == elem {
			named = append(named, a)
		}
	}
	switch len(named) {
	case 1:
		return named[0], nil
	case 0:
	default:
		ids := make([]string, len(named))
		for i, a := range named {
			ids[i] = a.id
		}
		return appRef{}, &pathError{
			msg:  fmt.Sprintf("%s: %v: %d running apps are named %s: name one by its ID (%s)", path, tree.ErrNotFound, len(named), elem, strings.Join(ids, ", ")),
			kind: tree.ErrNotFound,
		}
	}
	for _, a := range all {
		if a.id == elem || a.name == elem {
			return appRef{}, notRunning(a)
		}
	}
	return appRef{}, tree.NotFound(path)
}

// gone reports whether the supervisor of a no longer holds its state
// directory (or another one does now), looking at once.
func gone(a appRef) bool {
	pid, running, err := state.Probe(a.dir)
	return err == nil && (!running || pid != a.pid)
}
