package kubefs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// requestTimeout bounds one request (a GET, an update, a delete) when
// the caller's context has no deadline.
const requestTimeout = 30 * time.Second

// Options configure an FS.
type Options struct {
	// Kubeconfig is the kubeconfig file; "" loads client-go's default
	// files ($KUBECONFIG, else ~/.kube/config).
	Kubeconfig string
	// Mount is the path the FS is mounted at; "" is "/kube".
	Mount string
	// WrapTransport, if set, wraps the HTTP transport of every context's
	// clients (to trace or count requests).
	WrapTransport func(http.RoundTripper) http.RoundTripper
}

// FS serves the contexts of a kubeconfig and every object of their
// clusters as a tree.FS. Its methods may be called concurrently.
type FS struct {
	tree.Unsupported
	opts  Options
	mount []string // the elements of opts.Mount

	run  context.Context // the informers', ended by Close
	stop context.CancelFunc
	wg   sync.WaitGroup // the informers

	mu       sync.Mutex
	clusters map[string]*cluster // by context, made on first use
	closed   bool
}

var _ tree.FS = (*FS)(nil)

// New returns an FS serving the contexts of opts.Kubeconfig. It neither
// reads the kubeconfig nor connects: that is done on first use.
func New(opts Options) (*FS, error) {
	if opts.Mount == "" {
		opts.Mount = "/kube"
	}
	mount, err := api.Split(opts.Mount)
	if err != nil || len(mount) == 0 {
		return nil, fmt.Errorf("kubefs: mount %q is not a clean path below /", opts.Mount)
	}
	// client-go's informers log their failures with klog; the tree
	// reports them in its errors instead, not on the user's terminal.
	run, stop := context.WithCancel(klog.NewContext(context.Background(), logr.Discard()))
	return &FS{opts: opts, mount: mount, run: run, stop: stop, clusters: map[string]*cluster{}}, nil
}

// Close stops the informers and waits for them to end. The FS fails
// every call after.
func (fs *FS) Close() {
	fs.mu.Lock()
	fs.closed = true
	fs.mu.Unlock()
	fs.stop()
	fs.wg.Wait()
}

// cluster returns the connection to the context name, making it on first
// use.
func (fs *FS) cluster(path, name string) (*cluster, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.closed {
		return nil, errorf(path, tree.ErrUnavailable, "the tree is closed")
	}
	if c := fs.clusters[name]; c != nil {
		return c, nil
	}
	k, err := fs.kubeconfig(path, name)
	if err != nil {
		return nil, err
	}
	c, err := newCluster(fs.run, &fs.wg, k, name, fs.opts.WrapTransport)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	fs.clusters[name] = c
	return c, nil
}

// kubeconfig loads the kubeconfig, which must have the context name
// unless name is "" (then it may also be missing: its config is nil).
func (fs *FS) kubeconfig(path, name string) (*kubeconfig, error) {
	k, err := loadKubeconfig(fs.opts.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	switch {
	case name == "":
	case k.config == nil:
		return nil, errorf(path, tree.ErrNotFound, k.missing())
	case k.contexts()[name] == nil:
		return nil, errorf(path, tree.ErrNotFound, fmt.Sprintf("no context %q in the kubeconfig (%s)", name, strings.Join(k.looked, ", ")))
	}
	return k, nil
}

// resolve returns the cluster of l and the resource type l names.
func (fs *FS) resolve(ctx context.Context, l loc) (*cluster, *resource, error) {
	c, err := fs.cluster(l.path, l.context)
	if err != nil {
		return nil, nil, err
	}
	namespaced := l.namespace != ""
	res, err := c.disc.lookup(ctx, l.resource, namespaced)
	if err != nil {
		return nil, nil, apiError(l.path, c.server, err)
	}
	if res != nil {
		return c, res, nil
	}
	msg := fmt.Sprintf("no resource type %s in context %s", l.resource, c.name)
	if t := c.disc.cached(); t != nil && t.lookup(l.resource, !namespaced) != nil {
		if namespaced {
			msg += " namespaces (it is cluster-scoped: see " + join(fs.mount, l.context, clusterDir) + ")"
		} else {
			msg += " cluster (it is namespaced: see " + join(fs.mount, l.context, namespacesDir) + "/<ns>)"
		}
	}
	return nil, nil, errorf(l.path, tree.ErrNotFound, msg)
}

// informer returns the synced informer of the resource directory at l.
func (fs *FS) informer(ctx context.Context, c *cluster, res *resource, l loc) (*informer, error) {
	return c.informer(ctx, fs.run, &fs.wg, l.path, res, l.namespace)
}

// resourcePath returns the path of the directory of res holding l's
// object, as l names it.
func resourcePath(l loc) string { return api.Parent(objectPath(l)) }

// objectPath returns the path of l's object (l at or below atObject).
func objectPath(l loc) string {
	p := l.path
	for range int(l.level - atObject) {
		p = api.Parent(p)
	}
	return p
}

// bounded returns ctx bounded by requestTimeout if it has no deadline.
func bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, requestTimeout)
}

// isForbidden reports whether err is an API server's refusal.
func isForbidden(err error) bool { return errors.Is(err, tree.ErrForbidden) }

// sortNodes sorts nodes by name, as List returns them.
func sortNodes(nodes []tree.Node) []tree.Node {
	slices.SortFunc(nodes, func(a, b tree.Node) int { return strings.Compare(a.Name, b.Name) })
	return nodes
}
