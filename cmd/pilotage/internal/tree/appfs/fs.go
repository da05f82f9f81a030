package appfs

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// listWait bounds how long a List of /apps waits for the caches it starts
// to sync: an app whose supervisor does not answer by then is left out.
// A variable for tests.
var listWait = 2 * time.Second

// Options configure an FS.
type Options struct {
	// StateRoot is the directory holding the apps' state directories;
	// "" for the one the pilotage commands use: $PILOTAGE_STATE_DIR's
	// only app if it is set, else state.StateRoot().
	StateRoot string
}

// FS serves /apps (see the package documentation). Its methods may be
// called concurrently.
type FS struct {
	reg    *registry
	ctx    context.Context // of the caches' watches, ended by Close
	cancel context.CancelFunc

	mu     sync.Mutex
	caches map[string]*appCache // by state directory
	closed bool
}

var _ tree.FS = (*FS)(nil)

// New returns the FS of the apps with a state directory under
// opts.StateRoot. It reads nothing until asked.
func New(opts Options) *FS {
	ctx, cancel := context.WithCancel(context.Background())
	return &FS{reg: newRegistry(opts.StateRoot), ctx: ctx, cancel: cancel, caches: map[string]*appCache{}}
}

// Close stops every watch. The FS must not be used afterwards.
func (f *FS) Close() error {
	f.mu.Lock()
	caches := f.caches
	f.caches, f.closed = map[string]*appCache{}, true
	f.mu.Unlock()
	f.cancel()
	for _, c := range caches {
		c.close()
	}
	return nil
}

// cacheFor returns the cache of a, starting it (again, if a's supervisor
// is another one now) unless it runs.
func (f *FS) cacheFor(a appRef) (*appCache, error) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil, fmt.Errorf("apps: %w: the tree was closed", tree.ErrUnavailable)
	}
	old := f.caches[a.dir]
	if old != nil && old.app.pid == a.pid && old.app.name == a.name {
		f.mu.Unlock()
		return old, nil
	}
	c := newAppCache(f.ctx, a)
	f.caches[a.dir] = c
	f.mu.Unlock()
	if old != nil {
		old.close()
	}
	return c, nil
}

// running returns the apps running, and closes the caches of the others.
func (f *FS) running() ([]appRef, error) {
	apps, err := f.reg.running()
	if err != nil {
		return nil, err
	}
	up := map[string]int{}
	for _, a := range apps {
		up[a.dir] = a.pid
	}
	var stale []*appCache
	f.mu.Lock()
	for dir, c := range f.caches {
		if pid, ok := up[dir]; !ok || pid != c.app.pid {
			stale = append(stale, c)
			delete(f.caches, dir)
		}
	}
	f.mu.Unlock()
	for _, c := range stale {
		c.close()
	}
	return apps, nil
}

// A loc is a path into an app, located.
type loc struct {
	path   string    // the tree path, clean
	prefix string    // the tree path of the app: /apps/<its name or ID, as path has it>
	app    appRef    // the app
	cache  *appCache // its cache, usable
	elems  []string  // the path's elements below the app, decoded
}

// relOf returns the path of elems relative to the app ("" for the app).
func relOf(elems []string) string {
	if len(elems) == 0 {
		return ""
	}
	return api.Join(elems...)
}

// apiPath returns the control API's path of l.
func (l *loc) apiPath() string {
	return api.Join(append([]string{api.Apps, l.app.name}, l.elems...)...)
}

// locate returns the location of p, a path below /apps/<app>, once the
// app's cache may be served; root says p is /apps itself.
func (f *FS) locate(ctx context.Context, p string) (l *loc, root bool, err error) {
	elems, err := api.Split(p)
	if err != nil {
		return nil, false, &pathError{msg: fmt.Sprintf("%s: %v", p, err), kind: tree.ErrInvalid}
	}
	if len(elems) == 0 || elems[0] != api.Apps {
		return nil, false, tree.NotFound(p)
	}
	if len(elems) == 1 {
		return nil, true, nil
	}
	if _, err := f.running(); err != nil { // closes the caches of apps gone
		return nil, false, err
	}
	a, err := f.reg.resolve(elems[1], p)
	if err != nil {
		return nil, false, err
	}
	c, err := f.cacheFor(a)
	if err != nil {
		return nil, false, err
	}
	if err := c.usable(ctx); err != nil {
		return nil, false, f.appError(ctx, a, err)
	}
	return &loc{path: api.Join(elems...), prefix: api.Join(elems[:2]...), app: a, cache: c, elems: elems[2:]}, false, nil
}

// appError explains err, met reaching app a.
func (f *FS) appError(ctx context.Context, a appRef, err error) error {
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("app %s: %w", a.name, ctx.Err())
	case gone(a):
		return notRunning(a)
	}
	return notAnswering(a, err)
}

// fail returns err, of a request made to do op at l, as one line.
func (f *FS) fail(ctx context.Context, op string, l *loc, err error) error {
	if unreachable(err) {
		return f.appError(ctx, l.app, err)
	}
	return treeError(op, l.path, err)
}

// A target is what a path names in an app's cache.
type target struct {
	node tree.Node
	// entry is the resource the node is, or, for a node appfs adds, the
	// one it is added to.
	entry  *entry
	added  string      // the name of the node added ("status", "logs"...), "" for a resource
	method *api.Method // a method's node
}

// lookup returns what l names, from the cache.
func (l *loc) lookup() (t target, ok bool) {
	l.cache.snapshot(func(entries map[string]*entry, kids map[string]map[string]bool) {
		rel := relOf(l.elems)
		if e := entries[rel]; e != nil {
			t = target{node: e.node, entry: e}
			t.node.Dir = t.node.Dir || len(kids[rel]) > 0
			ok = true
			return
		}
		n := len(l.elems)
		if n == 0 {
			return
		}
		if pe := entries[relOf(l.elems[:n-1])]; pe != nil {
			if node, found := addedNode(pe, l.elems[n-1]); found {
				t, ok = target{node: node, entry: pe, added: l.elems[n-1]}, true
				return
			}
		}
		if n >= 2 && l.elems[n-2] == methodsDir {
			if ce := entries[relOf(l.elems[:n-2])]; ce != nil && ce.res.Kind == api.KindComponent {
				for i := range ce.methods {
					if ce.methods[i].Name == l.elems[n-1] {
						t, ok = target{node: methodNode(ce.methods[i]), entry: ce, method: &ce.methods[i]}, true
						return
					}
				}
			}
		}
	})
	if ok {
		t.node.Path = l.path
		if t.entry.res.Kind == api.KindApp && t.added == "" {
			t.node = appNode(l.app, t.node, api.Base(l.prefix))
		}
	}
	return t, ok
}

// appNode returns the node of app a at /apps/<elem>, from n, its
// resource's node (or a zero Node before its cache synced).
func appNode(a appRef, n tree.Node, elem string) tree.Node {
	n.Path, n.Name, n.Kind, n.Dir, n.Readable, n.Logs = api.Join(api.Apps, elem), elem, string(api.KindApp), true, true, true
	if n.Created.IsZero() {
		n.Created = a.started
	}
	if n.Info == "" {
		n.Info = a.id
	}
	return n
}

// find returns what p names; l is nil for /apps.
func (f *FS) find(ctx context.Context, p string) (l *loc, t target, err error) {
	l, root, err := f.locate(ctx, p)
	if err != nil {
		return nil, target{}, err
	}
	if root {
		return nil, target{node: rootNode()}, nil
	}
	t, err = l.target()
	return l, t, err
}

// target returns what l names, or an error wrapping tree.ErrNotFound.
func (l *loc) target() (target, error) {
	t, ok := l.lookup()
	if !ok {
		return target{}, tree.NotFound(l.path)
	}
	return t, nil
}

func rootNode() tree.Node {
	return tree.Node{Path: "/" + api.Apps, Name: api.Apps, Kind: string(api.KindCollection), Dir: true}
}

// Stat returns the node at p.
func (f *FS) Stat(ctx context.Context, p string) (tree.Node, error) {
	_, t, err := f.find(ctx, p)
	return t.node, err
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
	t, ok := l.lookup()
	switch {
	case !ok:
		return nil, tree.NotFound(l.path)
	case !t.node.Dir:
		return nil, tree.NotSupported("list", l.path)
	}
	var nodes []tree.Node
	switch {
	case t.added == methodsDir:
		for _, m := range t.entry.methods {
			n := methodNode(m)
			n.Path = l.path + "/" + url.PathEscape(m.Name)
			nodes = append(nodes, n)
		}
	case t.added == "":
		rel := relOf(l.elems)
		l.cache.snapshot(func(entries map[string]*entry, kids map[string]map[string]bool) {
			for k := range kids[rel] {
				n := entries[k].node
				n.Path = l.prefix + k
				n.Dir = n.Dir || len(kids[k]) > 0
				nodes = append(nodes, n)
			}
		})
		for _, name := range added(t.entry.res.Kind) {
			n, _ := addedNode(t.entry, name)
			n.Path = l.path + "/" + name
			nodes = append(nodes, n)
		}
	}
	slices.SortFunc(nodes, func(a, b tree.Node) int { return byName(a.Name, b.Name) })
	return nodes, nil
}

// listApps returns the nodes of the apps running whose supervisor
// answers, waiting for the first answer of each until listWait after its
// cache started.
func (f *FS) listApps(ctx context.Context) ([]tree.Node, error) {
	apps, err := f.running()
	if err != nil {
		return nil, err
	}
	nodes := make([]tree.Node, len(apps))
	keep := make([]bool, len(apps))
	var wg sync.WaitGroup
	for i, a := range apps {
		c, err := f.cacheFor(a)
		if err != nil {
			return nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-c.ready:
			default:
				wctx, cancel := context.WithDeadline(ctx, c.started.Add(listWait))
				defer cancel()
				select {
				case <-c.ready:
				case <-wctx.Done():
					return // no answer yet
				}
			}
			if c.usable(ctx) != nil {
				return
			}
			var n tree.Node
			c.snapshot(func(entries map[string]*entry, _ map[string]map[string]bool) {
				if e := entries[""]; e != nil {
					n = e.node
				}
			})
			nodes[i], keep[i] = appNode(a, n, a.elem), true
		}()
	}
	wg.Wait()
	var out []tree.Node
	for i := range nodes {
		if keep[i] {
			out = append(out, nodes[i])
		}
	}
	slices.SortFunc(out, func(a, b tree.Node) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
