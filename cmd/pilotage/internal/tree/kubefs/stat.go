package kubefs

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// forbiddenFor is how long a cluster remembers that its user may not
// list namespaces: meanwhile namespaces are taken on trust, without a
// request per path.
const forbiddenFor = 30 * time.Second

// Stat returns the node at path. Nodes below a context come from the
// watch caches, once synced.
func (fs *FS) Stat(ctx context.Context, path string) (tree.Node, error) {
	l, err := parse(fs.mount, path)
	if err != nil {
		return tree.Node{}, err
	}
	switch l.level {
	case atMount:
		return collectionNode(path, fs.mount[len(fs.mount)-1]), nil
	case atContext:
		k, err := fs.kubeconfig(path, l.context)
		if err != nil {
			return tree.Node{}, err
		}
		return contextNode(path, l.context, k), nil
	case atNamespaces, atCluster:
		if _, err := fs.cluster(path, l.context); err != nil {
			return tree.Node{}, err
		}
		return collectionNode(path, l.resourceDirName()), nil
	case atNamespace:
		c, err := fs.cluster(path, l.context)
		if err != nil {
			return tree.Node{}, err
		}
		return fs.namespace(ctx, c, l)
	case atResource:
		c, res, err := fs.resolve(ctx, l)
		if err != nil {
			return tree.Node{}, err
		}
		if _, err := fs.namespace(ctx, c, l); err != nil {
			return tree.Node{}, err
		}
		n := resourceNode(path, l.resource, res)
		c.mu.Lock()
		in := c.informers[informerKey{res.gvr, l.namespace}]
		c.mu.Unlock()
		if in != nil {
			if err := in.lastError(); err != nil {
				n.Info += "; watch failing: " + oneLine(err.Error())
			}
		}
		return n, nil
	case atObject:
		return fs.objectNode(ctx, l)
	case atContainers:
		if _, err := fs.pod(ctx, l); err != nil {
			return tree.Node{}, err
		}
		return collectionNode(path, containersDir), nil
	case atContainer:
		p, err := fs.pod(ctx, l)
		if err != nil {
			return tree.Node{}, err
		}
		for _, n := range containerNodes(objectPath(l)+"/"+containersDir, p) {
			if n.Name == l.container {
				return n, nil
			}
		}
		return tree.Node{}, errorf(path, tree.ErrNotFound, fmt.Sprintf("pod %s has no container %s", l.name, l.container))
	}
	return tree.Node{}, tree.NotFound(path)
}

// resourceDirName returns the name of the directory l is (namespaces or
// cluster).
func (l loc) resourceDirName() string {
	if l.level == atCluster {
		return clusterDir
	}
	return namespacesDir
}

// namespace returns the node of l's namespace, from the namespaces'
// watch cache; nil error and a node for any l not in a namespace. If
// the user may not list namespaces, the namespace is taken on trust
// (the requests below it will say if it does not exist).
func (fs *FS) namespace(ctx context.Context, c *cluster, l loc) (tree.Node, error) {
	if l.namespace == "" {
		return tree.Node{}, nil
	}
	path := join(fs.mount, l.context, namespacesDir, l.namespace)
	t, err := c.disc.current(ctx)
	if err != nil {
		return tree.Node{}, apiError(path, c.server, err)
	}
	if t.namespaces == nil || c.namespacesForbidden() {
		return namespaceNode(path, t.namespaces, nil), nil
	}
	in, err := c.informer(ctx, fs.run, &fs.wg, join(fs.mount, l.context, namespacesDir), t.namespaces, "")
	if isForbidden(err) {
		c.forbidNamespaces()
		return namespaceNode(path, t.namespaces, nil), nil
	}
	if err != nil {
		return tree.Node{}, err
	}
	obj := in.object("", l.namespace)
	if obj == nil {
		return tree.Node{}, errorf(l.path, tree.ErrNotFound, fmt.Sprintf("no namespace %s in context %s", l.namespace, c.name))
	}
	return namespaceNode(path, t.namespaces, obj), nil
}

// namespacesForbidden reports whether the user was refused listing
// namespaces lately.
func (c *cluster) namespacesForbidden() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Before(c.nsForbiddenUntil)
}

func (c *cluster) forbidNamespaces() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nsForbiddenUntil = time.Now().Add(forbiddenFor)
}

// cached returns l's object from the watch cache of its resource, with
// the cluster, resource and informer it came from.
func (fs *FS) cached(ctx context.Context, l loc) (*cluster, *resource, *informer, any, error) {
	c, res, err := fs.resolve(ctx, l)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if _, err := fs.namespace(ctx, c, l); err != nil {
		return nil, nil, nil, nil, err
	}
	in, err := fs.informer(ctx, c, res, l)
	if err != nil {
		return c, res, nil, nil, err
	}
	obj := in.object(l.namespace, l.name)
	if obj == nil {
		return nil, nil, nil, nil, tree.NotFound(objectPath(l))
	}
	return c, res, in, obj, nil
}

// objectNode returns the node of l's object. A user who may get objects
// but not list them gets it from a GET of its metadata.
func (fs *FS) objectNode(ctx context.Context, l loc) (tree.Node, error) {
	c, res, in, obj, err := fs.cached(ctx, l)
	if isForbidden(err) && c != nil && res.get {
		ctx, cancel := bounded(ctx)
		defer cancel()
		m, gerr := c.meta.Resource(res.gvr).Namespace(l.namespace).Get(ctx, l.name, metav1.GetOptions{})
		if gerr != nil {
			return tree.Node{}, apiError(l.path, c.server, gerr)
		}
		return objectNode(resourcePath(l), res, nil, m), nil
	}
	if err != nil {
		return tree.Node{}, err
	}
	return objectNode(resourcePath(l), res, in.typed, obj), nil
}

// pod returns l's pod (l at or below a pod) from the watch cache, or
// from a GET if the user may not list pods.
func (fs *FS) pod(ctx context.Context, l loc) (*corev1.Pod, error) {
	c, res, _, obj, err := fs.cached(ctx, l)
	if err == nil && !res.is("", "pods") {
		return nil, tree.NotFound(l.path) // only pods hold containers
	}
	if isForbidden(err) && c != nil && res.get {
		ctx, cancel := bounded(ctx)
		defer cancel()
		p, gerr := c.core.Pods(l.namespace).Get(ctx, l.name, metav1.GetOptions{})
		if gerr != nil {
			return nil, apiError(l.path, c.server, gerr)
		}
		obj, err = slimPod(p)
	}
	if err != nil {
		return nil, err
	}
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, tree.NotFound(l.path)
	}
	return p, nil
}
