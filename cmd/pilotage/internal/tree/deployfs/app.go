package deployfs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/deploy"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree/appfs"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree/kubefs"
)

// An appView is what the tree knows of one deployed app: its objects and
// its coordination store, each read at most every refreshInterval.
type appView struct {
	c   *deploy.Cluster
	app string

	mu       sync.Mutex
	deployed deploy.Deployed
	kube     *reading // of its objects
	coord    *reading // of its coordination store
	store    *storeConn
}

// A reading is the resources read at one time.
type reading struct {
	at  time.Time
	res []api.Resource
	err error
}

func newAppView(c *deploy.Cluster, app string) *appView {
	return &appView{c: c, app: app, store: &storeConn{c: c, app: app}}
}

func (v *appView) close() error { return v.store.close() }

func (v *appView) setDeployed(d deploy.Deployed) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if d.Live != v.deployed.Live {
		v.kube = nil // another version: read again
	}
	v.deployed = d
}

// snapshot returns the resources of the app that a path of elems (below
// the app) needs: its objects, and its coordination store's below locks,
// leaders and config. fresh reads them again at once.
func (v *appView) snapshot(ctx context.Context, elems []string, fresh bool) (*snapshot, error) {
	kube, err := v.read(ctx, &v.kube, fresh, v.readKube)
	if err != nil {
		return nil, err
	}
	res := slices.Clone(kube)
	if len(elems) > 0 && coordCollection(elems[0]) {
		coord, err := v.read(ctx, &v.coord, fresh, v.store.resources)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", api.Join(append([]string{api.Apps, v.app}, elems...)...), err)
		}
		res = append(res, coord...)
	}
	return newSnapshot(res), nil
}

// read returns *last, or what readFn reads if it is older than
// refreshInterval (or fresh).
func (v *appView) read(ctx context.Context, last **reading, fresh bool, readFn func(context.Context) ([]api.Resource, error)) ([]api.Resource, error) {
	v.mu.Lock()
	r := *last
	v.mu.Unlock()
	if r != nil && !fresh && time.Since(r.at) < refreshInterval {
		return r.res, r.err
	}
	res, err := readFn(ctx)
	v.mu.Lock()
	*last = &reading{at: time.Now(), res: res, err: err}
	v.mu.Unlock()
	return res, err
}

func coordCollection(elem string) bool {
	return elem == api.Locks || elem == api.Leaders || elem == api.Config
}

// readKube reads the app's status and the pods of its live version.
func (v *appView) readKube(ctx context.Context) ([]api.Resource, error) {
	v.mu.Lock()
	d := v.deployed
	v.mu.Unlock()
	st, err := v.c.Status(ctx, v.app)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (%w)", api.Join(api.Apps, v.app), err, tree.ErrUnavailable)
	}
	sel := layout.LabelApp + "=" + v.app + "," + layout.LabelVersion + "=" + d.Live
	pods, err := v.c.Client.CoreV1().Pods(v.c.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("%s: list pods: %w", api.Join(api.Apps, v.app), kubeError(err))
	}
	return kubeResources(d, st, pods.Items)
}

// where says where app d runs, for its node's Info.
func where(c *deploy.Cluster, d deploy.Deployed) string {
	s := fmt.Sprintf("kube %s/%s, version %s", c.Context, c.Namespace, d.Live)
	if d.Canary != "" {
		s += fmt.Sprintf(" (canary %s at %d%%)", d.Canary, d.Share)
	}
	return s
}

// appNode returns the node of app d: from its resource r if read (nil:
// from the state alone).
func appNode(c *deploy.Cluster, d deploy.Deployed, r *api.Resource) tree.Node {
	n := tree.Node{Kind: string(api.KindApp)}
	if r != nil {
		n = appfs.NodeOf(r)
	}
	n.Path, n.Name, n.Dir, n.Readable, n.Logs = api.Join(api.Apps, d.App), d.App, true, true, true
	if n.Created.IsZero() {
		n.Created = d.Since
	}
	n.Info = where(c, d)
	return n
}

// node returns the app's node, its resource from s.
func (v *appView) node(s *snapshot) tree.Node {
	v.mu.Lock()
	d := v.deployed
	v.mu.Unlock()
	return appNode(v.c, d, s.res[""])
}

// kubeResources returns the resources of app d, whose status is st and
// the pods of whose live version are pods, as paths below the app
// ("" for the app): those of the control API of a supervisor, with the
// same statuses.
func kubeResources(d deploy.Deployed, st *deploy.AppStatus, pods []corev1.Pod) ([]api.Resource, error) {
	b := &builder{}
	byGroup := map[string][]corev1.Pod{}
	for _, p := range pods {
		g := p.Labels[layout.LabelGroup]
		byGroup[g] = append(byGroup[g], p)
	}
	var groups []deploy.GroupStatus
	short := map[string]int{} // short name -> components that have it
	for _, g := range st.Groups {
		if g.Version != d.Live {
			continue
		}
		groups = append(groups, g)
		for _, c := range g.Components {
			short[shortName(c)]++
		}
	}
	elem := func(full string) string {
		if short[shortName(full)] > 1 {
			return full
		}
		return shortName(full)
	}
	states := make([]api.State, 0, len(groups))
	for _, g := range groups {
		gp := byGroup[g.Group]
		slices.SortFunc(gp, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
		state, why := groupState(g)
		states = append(states, state)
		restarts, started := 0, time.Time{}
		replicas := make([]api.ReplicaStatus, len(gp))
		for i, p := range gp {
			replicas[i] = replicaStatus(i, g.Group, &p)
			restarts += replicas[i].Restarts
			if s := replicas[i].Started; !s.IsZero() && (started.IsZero() || s.Before(started)) {
				started = s
			}
		}
		b.add(api.KindGroup, api.GroupStatus{Components: g.Components, State: state, Why: why, Replicas: int(g.Replicas),
			ReadyReplicas: int(g.Ready), Restarts: restarts, After: []string{}, Listeners: []string{}, StartedAt: started},
			groupActions, api.Groups, g.Group)
		for _, full := range g.Components {
			colocated := []string{}
			for _, other := range g.Components {
				if other != full {
					colocated = append(colocated, shortName(other))
				}
			}
			b.add(api.KindComponent, api.ComponentStatus{FullName: full, Group: g.Group, Colocated: colocated, State: state, Why: why,
				Replicas: int(g.Replicas), ReadyReplicas: int(g.Ready), Restarts: restarts, Refs: []string{}, After: []string{},
				Listeners: []string{}, Addresses: []string{}, StartedAt: started},
				groupActions, api.Components, elem(full))
			b.add(api.KindCollection, nil, nil, api.Components, elem(full), api.Replicas)
			for _, r := range replicas {
				b.add(api.KindReplica, r, []string{api.ActionRestart}, api.Components, elem(full), api.Replicas, r.Source)
			}
		}
	}
	for _, l := range st.Listeners {
		b.add(api.KindListener, api.ListenerStatus{Address: fmt.Sprintf("%s:%d", l.Service, l.Port), Components: []string{}, Backends: []string{}},
			nil, api.Listeners, l.Listener)
	}
	as := api.AppStatus{State: appState(states), Deployment: d.Live, Started: d.Since}
	b.add(api.KindApp, as, nil)
	for _, c := range []string{api.Components, api.Groups, api.Listeners, api.Locks, api.Leaders, api.Config} {
		b.add(api.KindCollection, nil, nil, c)
	}
	return b.res, b.err
}

// groupActions are those of a component or group: of its Deployment.
var groupActions = []string{api.ActionStop, api.ActionStart, api.ActionRestart}

// shortName returns a component's name without its package path.
func shortName(full string) string { return full[strings.LastIndex(full, "/")+1:] }

// groupState returns the state of group g, and why it is not ready.
func groupState(g deploy.GroupStatus) (api.State, string) {
	switch {
	case g.Stopped || g.Replicas == 0:
		return api.Stopped, ""
	case g.Ready >= g.Replicas:
		return api.Ready, ""
	case g.Ready == 0:
		return api.Starting, fmt.Sprintf("0/%d pods ready", g.Replicas)
	}
	return api.Degraded, fmt.Sprintf("%d/%d pods ready", g.Ready, g.Replicas)
}

// appState returns the state of an app whose groups are in states.
func appState(states []api.State) api.State {
	ready, serving := 0, 0
	for _, s := range states {
		switch s {
		case api.Ready:
			ready++
			serving++
		case api.Degraded:
			serving++
		case api.Stopped:
			ready++ // stopped on request
		}
	}
	switch {
	case ready == len(states):
		return api.Ready
	case serving > 0:
		return api.Degraded
	}
	return api.Starting
}

// replicaStatus returns the status of pod p, replica i of group.
func replicaStatus(i int, group string, p *corev1.Pod) api.ReplicaStatus {
	reason, ready, total, restarts := kubefs.PodStatus(p)
	r := api.ReplicaStatus{Index: i, Group: group, Source: p.Name, Restarts: restarts}
	if p.Status.PodIP != "" {
		r.RPCAddress = fmt.Sprintf("%s:%d", p.Status.PodIP, layout.RPCPort)
	}
	if p.Status.StartTime != nil {
		r.Started = p.Status.StartTime.Time
	}
	switch {
	case p.DeletionTimestamp != nil:
		r.State = api.Stopping
	case p.Status.Phase == corev1.PodSucceeded:
		r.State = api.Completed
	case p.Status.Phase == corev1.PodFailed:
		r.State, r.Why = api.Failed, reason
	case p.Status.Phase == corev1.PodRunning && ready == total:
		r.State = api.Ready
	default:
		r.State, r.Why = api.Starting, fmt.Sprintf("%s, %d/%d containers ready", reason, ready, total)
	}
	return r
}

// A builder collects resources below one app.
type builder struct {
	res []api.Resource
	err error
}

// add adds the resource of kind with status at the path of elems below
// the app.
func (b *builder) add(kind api.Kind, status any, actions []string, elems ...string) {
	r, err := api.NewResource(kind, relPath(elems), status, actions...)
	if err != nil {
		b.err = errors.Join(b.err, err)
		return
	}
	if len(elems) == 0 {
		r.Name = ""
	}
	b.res = append(b.res, r)
}

// relPath returns the path of elems below an app: "" for the app, else
// "/"-joined and percent-encoded as api.Join does.
func relPath(elems []string) string {
	if len(elems) == 0 {
		return ""
	}
	return api.Join(elems...)
}

// A snapshot is the resources of an app by their path below it.
type snapshot struct {
	res  map[string]*api.Resource
	kids map[string][]string // relative paths of each one's children
}

func newSnapshot(res []api.Resource) *snapshot {
	s := &snapshot{res: map[string]*api.Resource{}, kids: map[string][]string{}}
	for i := range res {
		r := &res[i]
		s.res[r.Path] = r
		if r.Path == "" {
			continue
		}
		parent := api.Parent(r.Path)
		if parent == "/" {
			parent = ""
		}
		s.kids[parent] = append(s.kids[parent], r.Path)
	}
	return s
}

// node returns the node at elems below the app at prefix.
func (s *snapshot) node(prefix string, elems []string) (tree.Node, bool) {
	rel := relPath(elems)
	r := s.res[rel]
	if r == nil {
		return tree.Node{}, false
	}
	return s.nodeOf(prefix, rel, r), true
}

func (s *snapshot) nodeOf(prefix, rel string, r *api.Resource) tree.Node {
	n := appfs.NodeOf(r)
	n.Path = prefix + rel
	n.Dir = n.Dir || len(s.kids[rel]) > 0
	n.Callable = false // see FS.Call
	n.RemoteExec = n.Exec
	if r.Kind == api.KindComponent || r.Kind == api.KindGroup {
		n.Logs = true
	}
	return n
}

// children returns the nodes of the children of elems, by name.
func (s *snapshot) children(prefix string, elems []string) []tree.Node {
	rel := relPath(elems)
	var out []tree.Node
	for _, k := range s.kids[rel] {
		out = append(out, s.nodeOf(prefix, k, s.res[k]))
	}
	slices.SortFunc(out, func(a, b tree.Node) int { return strings.Compare(a.Name, b.Name) })
	return out
}
