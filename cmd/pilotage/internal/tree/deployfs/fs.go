package deployfs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/deploy"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// Pacing; variables for tests.
var (
	// listWait bounds how long a List of /apps waits for the cluster.
	listWait = 2 * time.Second
	// refreshInterval is the least time between two reads of the apps
	// deployed, or of one app's objects or coordination store, for Stat
	// and List.
	refreshInterval = time.Second
	// reconnectAfter is how long a failed connection to the cluster is
	// the answer before it is tried again.
	reconnectAfter = 10 * time.Second
)

// Options configure an FS.
type Options struct {
	// Kubeconfig, Context and Namespace name the cluster and namespace
	// whose apps are served; empty: client-go's default kubeconfig
	// files, their current context, and its namespace.
	Kubeconfig, Context, Namespace string
}

// FS serves the deployed apps at /apps (see the package documentation).
// Its methods may be called concurrently.
type FS struct {
	target deploy.Target

	mu     sync.Mutex
	conn   *connection
	listed *appList
	views  map[string]*appView // by app, made on first use
	closed bool
}

var _ tree.FS = (*FS)(nil)

// New returns the FS of the apps deployed where opts says. It neither
// reads the kubeconfig nor connects until asked.
func New(opts Options) *FS {
	return &FS{target: deploy.Target{Kubeconfig: opts.Kubeconfig, Context: opts.Context, Namespace: opts.Namespace}, views: map[string]*appView{}}
}

// Close ends every port-forward and connection to a coordination store.
// The FS fails every call after.
func (f *FS) Close() error {
	f.mu.Lock()
	views := f.views
	f.views, f.closed = map[string]*appView{}, true
	f.mu.Unlock()
	var errs []error
	for _, v := range views {
		errs = append(errs, v.close())
	}
	return errors.Join(errs...)
}

// A connection is an attempt to connect to the cluster.
type connection struct {
	done    chan struct{} // closed once c or err is set
	c       *deploy.Cluster
	err     error
	started time.Time
}

// cluster returns the connection to the cluster, connecting in the
// background on first use (and again reconnectAfter a failure); ctx
// bounds only the wait. No kubeconfig at all is deploy.ErrNoKubeconfig.
func (f *FS) cluster(ctx context.Context) (*deploy.Cluster, error) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil, fmt.Errorf("deployed apps: %w: the tree was closed", tree.ErrUnavailable)
	}
	cn := f.conn
	if cn == nil || cn.failed() && time.Since(cn.started) > reconnectAfter {
		cn = &connection{done: make(chan struct{}), started: time.Now()}
		f.conn = cn
		go func() {
			defer close(cn.done)
			cn.c, cn.err = deploy.Connect(f.target)
		}()
	}
	f.mu.Unlock()
	select {
	case <-cn.done:
		if cn.err != nil && !errors.Is(cn.err, deploy.ErrNoKubeconfig) {
			return nil, fmt.Errorf("deployed apps: %w (%w)", cn.err, tree.ErrUnavailable)
		}
		return cn.c, cn.err
	case <-ctx.Done():
		return nil, fmt.Errorf("deployed apps: the cluster does not answer yet (%w: %w)", tree.ErrUnavailable, ctx.Err())
	}
}

func (cn *connection) failed() bool {
	select {
	case <-cn.done:
		return cn.err != nil
	default:
		return false
	}
}

// An appList is the apps deployed, as read at one time.
type appList struct {
	at   time.Time
	apps []deploy.Deployed
	err  error
}

// apps returns the apps deployed, as of at most refreshInterval ago; none
// without a kubeconfig.
func (f *FS) apps(ctx context.Context) (*deploy.Cluster, []deploy.Deployed, error) {
	c, err := f.cluster(ctx)
	if errors.Is(err, deploy.ErrNoKubeconfig) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	f.mu.Lock()
	l := f.listed
	f.mu.Unlock()
	if l != nil && time.Since(l.at) < refreshInterval {
		return c, l.apps, l.err
	}
	apps, err := c.Apps(ctx)
	if err != nil {
		err = fmt.Errorf("%w (%w)", err, tree.ErrUnavailable)
	}
	f.mu.Lock()
	f.listed = &appList{at: time.Now(), apps: apps, err: err}
	f.mu.Unlock()
	return c, apps, err
}

// view returns the view of the app the path element elem names.
func (f *FS) view(ctx context.Context, elem, p string) (*appView, error) {
	c, apps, err := f.apps(ctx)
	if err != nil {
		return nil, err
	}
	for _, a := range apps {
		if a.App != elem {
			continue
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.closed {
			return nil, fmt.Errorf("deployed apps: %w: the tree was closed", tree.ErrUnavailable)
		}
		v := f.views[a.App]
		if v == nil {
			v = newAppView(c, a.App)
			f.views[a.App] = v
		}
		v.setDeployed(a)
		return v, nil
	}
	return nil, tree.NotFound(p)
}

// A loc is a path into a deployed app.
type loc struct {
	path  string   // clean
	view  *appView // the app's
	elems []string // below the app, decoded
}

// prefix returns the path of the app.
func (l *loc) prefix() string { return api.Join(api.Apps, l.view.app) }

// locate returns the location of p; root says p is /apps itself.
func (f *FS) locate(ctx context.Context, p string) (l *loc, root bool, err error) {
	elems, err := api.Split(p)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %v: %w", p, err, tree.ErrInvalid)
	}
	if len(elems) == 0 || elems[0] != api.Apps {
		return nil, false, tree.NotFound(p)
	}
	if len(elems) == 1 {
		return nil, true, nil
	}
	v, err := f.view(ctx, elems[1], p)
	if err != nil {
		return nil, false, err
	}
	return &loc{path: api.Join(elems...), view: v, elems: elems[2:]}, false, nil
}

func rootNode() tree.Node {
	return tree.Node{Path: "/" + api.Apps, Name: api.Apps, Kind: string(api.KindCollection), Dir: true}
}

// Stat returns the node at p.
func (f *FS) Stat(ctx context.Context, p string) (tree.Node, error) {
	l, root, err := f.locate(ctx, p)
	if err != nil {
		return tree.Node{}, err
	}
	if root {
		return rootNode(), nil
	}
	s, err := l.view.snapshot(ctx, l.elems, false)
	if err != nil {
		return tree.Node{}, err
	}
	if len(l.elems) == 0 {
		return l.view.node(s), nil
	}
	n, ok := s.node(l.prefix(), l.elems)
	if !ok {
		return tree.Node{}, tree.NotFound(p)
	}
	return n, nil
}

// List returns the children of the directory at p.
func (f *FS) List(ctx context.Context, p string) ([]tree.Node, error) {
	l, root, err := f.locate(ctx, p)
	if err != nil {
		return nil, err
	}
	if root {
		return f.listApps(ctx)
	}
	s, err := l.view.snapshot(ctx, l.elems, false)
	if err != nil {
		return nil, err
	}
	n, ok := s.node(l.prefix(), l.elems)
	switch {
	case !ok:
		return nil, tree.NotFound(p)
	case !n.Dir:
		return nil, tree.NotSupported("list", p)
	}
	return s.children(l.prefix(), l.elems), nil
}

// listApps returns the nodes of the apps deployed, with their state if
// their objects can be read, waiting at most listWait for the cluster.
func (f *FS) listApps(ctx context.Context) ([]tree.Node, error) {
	ctx, cancel := context.WithTimeout(ctx, listWait)
	defer cancel()
	_, apps, err := f.apps(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]tree.Node, len(apps))
	errs := make([]error, len(apps))
	var wg sync.WaitGroup
	for i, a := range apps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := f.view(ctx, a.App, api.Join(api.Apps, a.App))
			if err != nil {
				errs[i] = err
				return
			}
			s, err := v.snapshot(ctx, nil, false)
			if err != nil {
				s = newSnapshot(nil) // its objects cannot be read: the node says where it is, not how it is
			}
			out[i] = v.node(s)
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// Watch calls fn with every change of the children of the directory at p,
// listing it again every refreshInterval, until ctx ends.
func (f *FS) Watch(ctx context.Context, p string, fn func(tree.Event)) error {
	var prev []tree.Node
	for listed := false; ; listed = true {
		nodes, err := f.List(ctx, p)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if listed {
			for _, ev := range tree.Diff(prev, nodes) {
				fn(ev)
			}
		}
		prev = nodes
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(refreshInterval):
		}
	}
}

// Call is not supported: the methods of a deployed app's components are
// called by its own replicas only.
func (f *FS) Call(_ context.Context, p, _ string, _ json.RawMessage) (json.RawMessage, error) {
	return nil, tree.NotSupported("call", p)
}
