package kubefs

import (
	"context"
	"net/url"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// List returns the children of the directory at path, sorted by name:
// the contexts of the kubeconfig at the mount point, then, below a
// context, what discovery and the watch caches hold (no request once a
// directory's informer has synced).
func (fs *FS) List(ctx context.Context, path string) ([]tree.Node, error) {
	l, err := parse(fs.mount, path)
	if err != nil {
		return nil, err
	}
	switch l.level {
	case atMount:
		k, err := fs.kubeconfig(path, "")
		if err != nil {
			return nil, err
		}
		var nodes []tree.Node
		for name := range k.contexts() {
			nodes = append(nodes, contextNode(join(fs.mount, name), name, k))
		}
		return sortNodes(nodes), nil
	case atContext:
		if _, err := fs.kubeconfig(path, l.context); err != nil {
			return nil, err
		}
		return []tree.Node{
			collectionNode(path+"/"+clusterDir, clusterDir),
			collectionNode(path+"/"+namespacesDir, namespacesDir),
		}, nil
	case atNamespaces:
		return fs.listNamespaces(ctx, l)
	case atNamespace, atCluster:
		return fs.listResources(ctx, l)
	case atResource:
		c, res, err := fs.resolve(ctx, l)
		if err != nil {
			return nil, err
		}
		if _, err := fs.namespace(ctx, c, l); err != nil {
			return nil, err
		}
		in, err := fs.informer(ctx, c, res, l)
		if err != nil {
			return nil, err
		}
		objs := in.objects()
		nodes := make([]tree.Node, 0, len(objs))
		for _, obj := range objs {
			nodes = append(nodes, objectNode(path, res, in.typed, obj))
		}
		return sortNodes(nodes), nil
	case atObject:
		if _, err := fs.pod(ctx, l); err != nil {
			if _, statErr := fs.objectNode(ctx, l); statErr == nil {
				return nil, tree.NotSupported("list", path) // an object that is not a pod
			}
			return nil, err
		}
		return []tree.Node{collectionNode(path+"/"+containersDir, containersDir)}, nil
	case atContainers:
		p, err := fs.pod(ctx, l)
		if err != nil {
			return nil, err
		}
		return sortNodes(containerNodes(path, p)), nil
	}
	return nil, tree.NotSupported("list", path)
}

// listNamespaces lists the namespaces of l's context.
func (fs *FS) listNamespaces(ctx context.Context, l loc) ([]tree.Node, error) {
	c, err := fs.cluster(l.path, l.context)
	if err != nil {
		return nil, err
	}
	t, err := c.disc.current(ctx)
	if err != nil {
		return nil, apiError(l.path, c.server, err)
	}
	if t.namespaces == nil {
		return nil, errorf(l.path, tree.ErrNotFound, "the server of context "+c.name+" has no namespaces")
	}
	in, err := c.informer(ctx, fs.run, &fs.wg, l.path, t.namespaces, "")
	if err != nil {
		if isForbidden(err) {
			c.forbidNamespaces()
		}
		return nil, err
	}
	objs := in.objects()
	nodes := make([]tree.Node, 0, len(objs))
	for _, obj := range objs {
		nodes = append(nodes, asNamespace(objectNode(l.path, t.namespaces, nil, obj)))
	}
	return sortNodes(nodes), nil
}

// listResources lists the resource types of a namespace or of the
// cluster scope.
func (fs *FS) listResources(ctx context.Context, l loc) ([]tree.Node, error) {
	c, err := fs.cluster(l.path, l.context)
	if err != nil {
		return nil, err
	}
	if _, err := fs.namespace(ctx, c, l); err != nil {
		return nil, err
	}
	t, err := c.disc.listing(ctx)
	if err != nil {
		return nil, apiError(l.path, c.server, err)
	}
	list := t.cluster
	if l.level == atNamespace {
		list = t.namespaced
	}
	nodes := make([]tree.Node, 0, len(list))
	for _, r := range list {
		nodes = append(nodes, resourceNode(l.path+"/"+url.PathEscape(r.name), r.name, r))
	}
	return nodes, nil // sorted by name already
}
