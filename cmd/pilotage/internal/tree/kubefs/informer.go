package kubefs

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// syncTimeout bounds the wait for an informer's first list when the
// caller's context has no deadline: a server that accepts connections
// but does not answer must not hang the shell.
const syncTimeout = time.Minute

// An informerKey names the informer of a resource in a namespace ("" for
// a cluster-scoped resource).
type informerKey struct {
	gvr       schema.GroupVersionResource
	namespace string
}

// An informer is the watch cache of one resource in one namespace.
type informer struct {
	res   *resource
	typed *typedKind // nil for a metadata-only informer
	inf   cache.SharedIndexInformer
	stop  context.CancelFunc
	done  chan struct{} // closed when it has stopped

	failed chan struct{} // closed when its first list failed
	once   sync.Once
	err    error // why, set before failed is closed

	mu       sync.Mutex
	watchErr error // the last failure since it synced, until the next event
}

// informer returns the synced informer of res in namespace ns, starting
// it on first use (run by run, the FS's context, until the FS closes). A
// first list that fails (forbidden, unreachable) fails the call and
// drops the informer, so that the next call tries again.
func (c *cluster) informer(ctx, run context.Context, wg *sync.WaitGroup, path string, res *resource, ns string) (*informer, error) {
	key := informerKey{res.gvr, ns}
	c.mu.Lock()
	in := c.informers[key]
	if in == nil {
		var err error
		if in, err = c.startInformer(run, wg, res, ns); err != nil {
			c.mu.Unlock()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		c.informers[key] = in
	}
	c.mu.Unlock()

	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, syncTimeout)
		defer cancel()
	}
	select {
	case <-in.inf.HasSyncedChecker().Done():
		return in, nil
	case <-in.failed:
		c.mu.Lock()
		if c.informers[key] == in {
			delete(c.informers, key)
		}
		c.mu.Unlock()
		return nil, apiError(path, c.server, in.err)
	case <-run.Done():
		return nil, errorf(path, tree.ErrUnavailable, "the tree is closed")
	case <-ctx.Done():
		if ctx.Err() == context.DeadlineExceeded {
			return nil, errorf(path, tree.ErrUnavailable, fmt.Sprintf("%s did not list %s in time", c.server, res.name))
		}
		return nil, fmt.Errorf("%s: %w", path, ctx.Err())
	}
}

// startInformer starts the informer of res in ns.
func (c *cluster) startInformer(run context.Context, wg *sync.WaitGroup, res *resource, ns string) (*informer, error) {
	in := &informer{res: res, typed: typedKinds[res.gvr], done: make(chan struct{}), failed: make(chan struct{})}
	slim := slimPartial
	if in.typed != nil {
		lw := cache.NewListWatchFromClient(in.typed.client(c), res.gvr.Resource, ns, fields.Everything())
		in.inf = cache.NewSharedIndexInformer(lw, in.typed.example, 0, cache.Indexers{})
		slim = in.typed.slim
	} else {
		in.inf = metadatainformer.NewFilteredMetadataInformer(c.meta, res.gvr, ns, 0, cache.Indexers{}, nil).Informer()
	}
	if err := in.inf.SetTransform(slim); err != nil {
		return nil, fmt.Errorf("informer of %s: %w", res.name, err)
	}
	err := in.inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
		if !in.inf.HasSynced() {
			in.fail(err)
			return
		}
		in.mu.Lock()
		in.watchErr = err
		in.mu.Unlock()
	})
	if err != nil {
		return nil, fmt.Errorf("informer of %s: %w", res.name, err)
	}
	// Any event says the watch works again.
	clear := func() {
		in.mu.Lock()
		in.watchErr = nil
		in.mu.Unlock()
	}
	_, err = in.inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { clear() },
		UpdateFunc: func(any, any) { clear() },
		DeleteFunc: func(any) { clear() },
	})
	if err != nil {
		return nil, fmt.Errorf("informer of %s: %w", res.name, err)
	}
	ctx, stop := context.WithCancel(run)
	in.stop = stop
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(in.done)
		in.inf.RunWithContext(ctx)
	}()
	return in, nil
}

// fail records that the first list failed with err and stops in.
func (in *informer) fail(err error) {
	in.once.Do(func() {
		in.err = err
		close(in.failed)
		in.stop()
	})
}

// lastError returns the watch's last failure since the informer synced,
// if no event came since.
func (in *informer) lastError() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.watchErr
}

// objects returns the cached objects.
func (in *informer) objects() []any { return in.inf.GetStore().List() }

// object returns the cached object name, or nil.
func (in *informer) object(ns, name string) any {
	key := name
	if ns != "" {
		key = ns + "/" + name
	}
	obj, ok, err := in.inf.GetStore().GetByKey(key)
	if err != nil || !ok {
		return nil // a store without indexers fails no lookup
	}
	return obj
}
