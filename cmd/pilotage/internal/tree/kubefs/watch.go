package kubefs

import (
	"context"
	"sync"

	"k8s.io/client-go/tools/cache"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// Watch calls fn with every change of the objects of the resource
// directory (or of the namespaces directory) at path, from its informer,
// until ctx ends. The objects present when it starts are not reported:
// List returns them.
func (fs *FS) Watch(ctx context.Context, path string, fn func(tree.Event)) error {
	l, err := parse(fs.mount, path)
	if err != nil {
		return err
	}
	var (
		in  *informer
		res *resource
	)
	switch l.level {
	case atNamespaces:
		c, err := fs.cluster(path, l.context)
		if err != nil {
			return err
		}
		t, err := c.disc.current(ctx)
		if err != nil {
			return apiError(path, c.server, err)
		}
		if t.namespaces == nil {
			return tree.NotSupported("watch", path)
		}
		res = t.namespaces
		if in, err = c.informer(ctx, fs.run, &fs.wg, path, res, ""); err != nil {
			return err
		}
	case atResource:
		var c *cluster
		if c, res, err = fs.resolve(ctx, l); err != nil {
			return err
		}
		if _, err := fs.namespace(ctx, c, l); err != nil {
			return err
		}
		if in, err = fs.informer(ctx, c, res, l); err != nil {
			return err
		}
	default:
		return tree.NotSupported("watch", path)
	}
	return watchInformer(ctx, in, l.level == atNamespaces, path, res, fn)
}

// watchInformer calls fn with the events of in, nodes in the directory
// dir, until ctx ends or in stops (the FS closed).
func watchInformer(ctx context.Context, in *informer, namespaces bool, dir string, res *resource, fn func(tree.Event)) error {
	var (
		mu    sync.Mutex // serializes fn with the end of Watch
		ended bool
	)
	emit := func(t tree.EventType, obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		n := objectNode(dir, res, in.typed, obj)
		if namespaces {
			n = asNamespace(n)
		}
		mu.Lock()
		defer mu.Unlock()
		if !ended {
			fn(tree.Event{Type: t, Node: n})
		}
	}
	reg, err := in.inf.AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(obj any, initial bool) {
			if !initial {
				emit(tree.Added, obj)
			}
		},
		UpdateFunc: func(_, obj any) { emit(tree.Modified, obj) },
		DeleteFunc: func(obj any) { emit(tree.Deleted, obj) },
	})
	if err != nil {
		return errorf(dir, tree.ErrUnavailable, "watch: "+err.Error())
	}
	defer func() {
		// An informer that stopped has no handlers left to remove.
		_ = in.inf.RemoveEventHandler(reg)
		mu.Lock()
		ended = true
		mu.Unlock()
	}()
	select {
	case <-ctx.Done():
		return nil
	case <-in.done:
		return errorf(dir, tree.ErrUnavailable, "the tree is closed")
	}
}
