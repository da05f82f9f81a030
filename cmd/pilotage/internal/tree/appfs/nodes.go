package appfs

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// An entry is a resource of an app's cache with what the tree shows of
// it, decoded once when it changes.
type entry struct {
	res     *api.Resource
	node    tree.Node    // without its Path
	methods []api.Method // a component's
	source  string       // a replica's log source ("cart.Cart/1")
}

// dirKinds are the kinds the tree shows as directories, children or not.
var dirKinds = map[api.Kind]bool{
	api.KindCollection: true, api.KindApp: true, api.KindComponent: true,
	api.KindUnit: true, api.KindReplica: true,
}

// logKinds are the kinds whose processes' logs the control API streams.
var logKinds = map[api.Kind]bool{
	api.KindApp: true, api.KindComponent: true, api.KindGroup: true,
	api.KindUnit: true, api.KindReplica: true,
}

// newEntry returns the entry of r. A status that does not decode leaves
// its node's columns empty: the node is still there, and cat shows it.
func newEntry(r *api.Resource) *entry {
	e := &entry{res: r}
	n := tree.Node{
		Name:     r.Name,
		Kind:     string(r.Kind),
		Dir:      dirKinds[r.Kind],
		Actions:  r.Actions,
		Readable: r.Kind != api.KindCollection,
		Logs:     logKinds[r.Kind],
	}
	switch r.Kind {
	case api.KindApp:
		var st api.AppStatus
		if r.DecodeStatus(&st) == nil {
			n.State, n.Created = string(st.State), st.Started
			if len(st.Problems) > 0 {
				n.Info = st.Problems[len(st.Problems)-1]
			}
		}
	case api.KindComponent:
		n.Callable = true
		var st api.ComponentStatus
		if r.DecodeStatus(&st) == nil {
			n.State, n.Ready, n.Restarts, n.Created, n.Info = string(st.State), ready(st.ReadyReplicas, st.Replicas), st.Restarts, st.StartedAt, st.Why
			e.methods = st.Methods
		}
	case api.KindGroup:
		var st api.GroupStatus
		if r.DecodeStatus(&st) == nil {
			n.State, n.Ready, n.Restarts, n.Created, n.Info = string(st.State), ready(st.ReadyReplicas, st.Replicas), st.Restarts, st.StartedAt, st.Why
		}
	case api.KindUnit:
		var st api.UnitStatus
		if r.DecodeStatus(&st) == nil {
			n.State, n.Ready, n.Restarts, n.Created, n.Info = string(st.State), ready(st.ReadyReplicas, st.Replicas), st.Restarts, st.StartedAt, st.Why
		}
	case api.KindReplica:
		n.Exec = true
		var st api.ReplicaStatus
		if r.DecodeStatus(&st) == nil {
			n.State, n.Restarts, n.Created, n.Info = string(st.State), st.Restarts, st.Started, st.Why
			if n.Info == "" && st.PID != 0 {
				n.Info = "pid " + strconv.Itoa(st.PID)
			}
			e.source = st.Source
		}
	case api.KindListener:
		var st api.ListenerStatus
		if r.DecodeStatus(&st) == nil {
			n.Info = st.Address
		}
	case api.KindLock:
		var st api.LockStatus
		if r.DecodeStatus(&st) == nil {
			n.Info = st.Holder
		}
	case api.KindLeader:
		var st api.LeaderStatus
		if r.DecodeStatus(&st) == nil {
			n.Info = st.Holder
		}
	case api.KindConfigKey:
		n.Editable, n.Remove = true, true
		var st api.ConfigKeyStatus
		if r.DecodeStatus(&st) == nil {
			var tags []string
			if st.Typed {
				tags = append(tags, "typed")
			}
			if api.SecretKey(st.Key) {
				tags = append(tags, "secret")
			}
			n.Info = strings.Join(tags, ", ")
		}
	}
	e.node = n
	return e
}

// NodeOf returns the node of the control API resource r (without its
// Path), as /apps shows it: the one rendering of apps' resources, which
// the tree of deployed apps (package deployfs) shares.
func NodeOf(r *api.Resource) tree.Node { return newEntry(r).node }

func ready(n, of int) string { return fmt.Sprintf("%d/%d", n, of) }

// Names of the nodes appfs adds to the control API's tree.
const (
	statusFile  = "status"
	configFile  = "config"
	methodsDir  = "methods"
	logsFile    = "logs"
	envFile     = "env"
	kindMethod  = "Method"
	kindStatus  = "Status"
	kindConfig  = "Config"
	kindLogs    = "Logs"
	kindEnv     = "Env"
	kindMethods = "Collection"
)

// added returns the names of the nodes appfs adds below a resource of
// kind, sorted.
func added(kind api.Kind) []string {
	switch kind {
	case api.KindComponent:
		return []string{configFile, methodsDir, statusFile}
	case api.KindUnit:
		return []string{logsFile, statusFile}
	case api.KindReplica:
		return []string{envFile, logsFile, statusFile}
	}
	return nil
}

// addedNode returns the node name that appfs adds below the resource of
// e, if it adds one of that name.
func addedNode(e *entry, name string) (tree.Node, bool) {
	found := false
	for _, a := range added(e.res.Kind) {
		found = found || a == name
	}
	if !found {
		return tree.Node{}, false
	}
	switch name {
	case statusFile:
		return tree.Node{Name: name, Kind: kindStatus, Readable: true}, true
	case configFile:
		return tree.Node{Name: name, Kind: kindConfig, Readable: true}, true
	case methodsDir:
		return tree.Node{Name: name, Kind: kindMethods, Dir: true, Info: plural(len(e.methods), "method")}, true
	case logsFile:
		return tree.Node{Name: name, Kind: kindLogs, Readable: true, Logs: true}, true
	case envFile:
		return tree.Node{Name: name, Kind: kindEnv, Readable: true}, true
	}
	return tree.Node{}, false
}

// methodNode returns the node of method m.
func methodNode(m api.Method) tree.Node {
	return tree.Node{Name: m.Name, Kind: kindMethod, Readable: true, Info: signature(m)}
}

// signature returns m as Go declares it, with the context first:
// "Add(ctx, user string, item Item) error", "List(ctx) ([]Product, error)".
func signature(m api.Method) string {
	var b strings.Builder
	b.WriteString(m.Name)
	b.WriteString("(ctx")
	for _, p := range m.Params {
		fmt.Fprintf(&b, ", %s %s", p.Name, p.Type)
	}
	b.WriteString(")")
	switch len(m.Results) {
	case 0:
		b.WriteString(" error")
	default:
		b.WriteString(" (" + strings.Join(m.Results, ", ") + ", error)")
	}
	return b.String()
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// byName orders names as ls shows them: replica indexes by number, the
// rest as strings.
func byName(a, b string) int {
	na, ea := strconv.Atoi(a)
	nb, eb := strconv.Atoi(b)
	switch {
	case ea == nil && eb == nil && na != nb:
		return na - nb
	case ea == nil && eb != nil:
		return -1
	case ea != nil && eb == nil:
		return 1
	}
	return strings.Compare(a, b)
}

// statusValue returns the status of r as cat shows it.
func statusValue(r *api.Resource) any {
	if len(r.Status) == 0 {
		return map[string]any{}
	}
	return json.RawMessage(r.Status)
}
