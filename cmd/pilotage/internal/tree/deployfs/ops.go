package deployfs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/coordview"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/deploy"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/podconn"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree/appfs"
	"github.com/pilotage/pilotage/coord"
)

// appContainer is the container of a pod of the app (the envelope's).
const appContainer = "app"

// find returns what p names, read again at once if fresh.
func (f *FS) find(ctx context.Context, p string, fresh bool) (*loc, *api.Resource, error) {
	l, root, err := f.locate(ctx, p)
	if err != nil {
		return nil, nil, err
	}
	if root {
		return nil, nil, nil
	}
	s, err := l.view.snapshot(ctx, l.elems, fresh)
	if err != nil {
		return nil, nil, err
	}
	r := s.res[relPath(l.elems)]
	if r == nil {
		return nil, nil, tree.NotFound(p)
	}
	return l, r, nil
}

// Read returns the content of the node at p, read at once: the deploy's
// status of the app, the status of another resource, a config key's
// value.
func (f *FS) Read(ctx context.Context, p string, opts tree.ReadOptions) (tree.Content, error) {
	l, root, err := f.locate(ctx, p)
	switch {
	case err != nil:
		return tree.Content{}, err
	case root:
		return tree.Content{}, tree.NotSupported("read", p)
	case len(l.elems) == 0:
		st, err := l.view.c.Status(ctx, l.view.app)
		if err != nil {
			return tree.Content{}, fmt.Errorf("read %s: %w (%w)", p, err, tree.ErrUnavailable)
		}
		return tree.Content{Value: st}, nil
	case len(l.elems) == 2 && l.elems[0] == api.Config:
		return f.readConfig(ctx, l, opts)
	}
	_, r, err := f.find(ctx, p, true)
	if err != nil {
		return tree.Content{}, err
	}
	if r.Kind == api.KindCollection {
		return tree.Content{}, tree.NotSupported("read", p)
	}
	if len(r.Status) == 0 {
		return tree.Content{Value: map[string]any{}}, nil
	}
	return tree.Content{Value: json.RawMessage(r.Status)}, nil
}

// configStore returns the store of the config key at p, and its key.
func (f *FS) configStore(ctx context.Context, op, p string) (*loc, *coord.Store, string, error) {
	l, root, err := f.locate(ctx, p)
	if err != nil {
		return nil, nil, "", err
	}
	if root || len(l.elems) != 2 || l.elems[0] != api.Config {
		if _, err := f.Stat(ctx, p); err != nil {
			return nil, nil, "", err
		}
		return nil, nil, "", tree.NotSupported(op, p)
	}
	store, err := l.view.store.get(ctx)
	if err != nil {
		return nil, nil, "", fmt.Errorf("%s %s: %w", op, p, err)
	}
	if store == nil {
		return nil, nil, "", fmt.Errorf("%s %s: app %s uses no coordination store: %w", op, p, l.view.app, tree.ErrNotSupported)
	}
	return l, store, l.elems[1], nil
}

func (f *FS) readConfig(ctx context.Context, l *loc, opts tree.ReadOptions) (tree.Content, error) {
	_, store, key, err := f.configStore(ctx, "read", l.path)
	if err != nil {
		return tree.Content{}, err
	}
	cv, err := coordview.Value(ctx, store, key)
	if errors.Is(err, coord.ErrNotFound) {
		return tree.Content{}, tree.NotFound(l.path)
	}
	if err != nil {
		l.view.store.broke(err)
		return tree.Content{}, fmt.Errorf("read %s: %w", l.path, storeError("read", err))
	}
	return appfs.ConfigContent(l.path, cv, opts)
}

// Write sets the config key at p (existing or not) to value, as appfs
// does, if its revision is still version (empty: whatever it is).
func (f *FS) Write(ctx context.Context, p string, value json.RawMessage, version string) (string, error) {
	l, store, key, err := f.configStore(ctx, "write", p)
	if err != nil {
		return "", err
	}
	rev, err := appfs.ParseVersion(l.path, version)
	if err != nil {
		return "", err
	}
	data, err := appfs.StoreBytes(l.path, key, value, func() (*api.ConfigValue, error) {
		cv, err := coordview.Value(ctx, store, key)
		if errors.Is(err, coord.ErrNotFound) {
			return nil, api.ErrNotFound
		}
		return cv, err
	})
	if err != nil {
		return "", err
	}
	if rev >= 0 {
		rev, err = store.CompareAndSwap(ctx, key, data, rev)
	} else {
		rev, err = store.Put(ctx, key, data)
	}
	if err != nil {
		l.view.store.broke(err)
		return "", fmt.Errorf("write %s: %w", l.path, storeError("write to", err))
	}
	l.view.dropCoord()
	return strconv.FormatInt(rev, 10), nil
}

// Remove deletes the config key at p.
func (f *FS) Remove(ctx context.Context, p string) error {
	l, store, key, err := f.configStore(ctx, "remove", p)
	if err != nil {
		return err
	}
	if _, err := store.Get(ctx, key); errors.Is(err, coord.ErrNotFound) {
		return tree.NotFound(l.path)
	}
	if _, err := store.Delete(ctx, key); err != nil {
		l.view.store.broke(err)
		return fmt.Errorf("remove %s: %w", l.path, storeError("delete from", err))
	}
	l.view.dropCoord()
	return nil
}

// dropCoord makes the next Stat or List read the store again: it shows
// what was just written.
func (v *appView) dropCoord() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.coord = nil
}

// Act performs action on the node at p: stop, start or restart the
// group of a component (or the group), restart a replica (its pod is
// deleted, and its Deployment makes another), release a lock.
func (f *FS) Act(ctx context.Context, p, action string) (string, error) {
	l, r, err := f.find(ctx, p, false)
	if err != nil {
		return "", err
	}
	if r == nil || !slices.Contains(r.Actions, action) {
		return "", tree.NotSupported(action, p)
	}
	v := l.view
	switch r.Kind {
	case api.KindComponent, api.KindGroup:
		components, err := componentsOf(r)
		if err != nil {
			return "", fmt.Errorf("%s %s: %w", action, p, err)
		}
		// A group is named by any of its components.
		msg, err := v.c.Act(ctx, v.app, components[0], deploy.GroupAction(action), io.Discard)
		v.dropKube()
		if err != nil {
			return "", fmt.Errorf("%s %s: %w", action, p, err)
		}
		return msg, nil
	case api.KindReplica:
		pod := r.Name
		if err := v.c.Client.CoreV1().Pods(v.c.Namespace).Delete(ctx, pod, metav1.DeleteOptions{}); err != nil {
			return "", fmt.Errorf("restart %s: delete pod %s: %w", p, pod, kubeError(err))
		}
		v.dropKube()
		return fmt.Sprintf("deleted pod %s: its Deployment replaces it", pod), nil
	case api.KindLock:
		return f.release(ctx, l, r)
	}
	return "", tree.NotSupported(action, p)
}

// release takes the lock r at l from its holder.
func (f *FS) release(ctx context.Context, l *loc, r *api.Resource) (string, error) {
	store, err := l.view.store.get(ctx)
	if err != nil {
		return "", fmt.Errorf("release %s: %w", l.path, err)
	}
	if store == nil { // it went between the read and now
		return "", fmt.Errorf("release %s: app %s uses no coordination store: %w", l.path, l.view.app, tree.ErrNotFound)
	}
	var before api.LockStatus
	if err := r.DecodeStatus(&before); err != nil {
		return "", fmt.Errorf("release %s: %w", l.path, err)
	}
	held, err := store.ForceUnlock(ctx, r.Name)
	l.view.dropCoord()
	if err != nil {
		l.view.store.broke(err)
		return "", fmt.Errorf("release %s: %w", l.path, storeError("release a lock of", err))
	}
	if !held {
		return fmt.Sprintf("lock %s: nobody held it", r.Name), nil
	}
	return fmt.Sprintf("lock %s: released from %s (token %d): its lock context is cancelled and its fenced writes fail", r.Name, before.Holder, before.Token), nil
}

func (v *appView) dropKube() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.kube = nil
}

// Logs calls fn with the log lines of the pods under the node at p (the
// app, a component, a group, a replica), merged in time order (package
// deploy), each with the path of its replica.
func (f *FS) Logs(ctx context.Context, p string, opts tree.LogOptions, fn func(tree.LogLine) error) error {
	l, r, err := f.find(ctx, p, false)
	if err != nil {
		return err
	}
	if r == nil || !hasLogs(r) {
		return tree.NotSupported("show logs of", p)
	}
	s, err := l.view.snapshot(ctx, l.elems, false)
	if err != nil {
		return err
	}
	q := deploy.LogQuery{Follow: opts.Follow, Tail: int64(opts.Tail), Since: opts.Since}
	switch r.Kind {
	case api.KindComponent, api.KindGroup:
		if q.Components, err = componentsOf(r); err != nil {
			return fmt.Errorf("show logs of %s: %w", p, err)
		}
	case api.KindReplica:
		q.Pods = []string{r.Name}
	}
	paths := replicaPaths(s, l.prefix(), relPath(l.elems))
	err = l.view.c.Logs(ctx, l.view.app, q, func(line deploy.LogLine) error {
		path, ok := paths[line.Pod]
		if !ok {
			path = l.prefix()
		}
		return fn(tree.LogLine{Time: line.Time, Path: path, Text: line.Text})
	})
	if err != nil && !(opts.Follow && ctx.Err() != nil) {
		return fmt.Errorf("show logs of %s: %w", p, err)
	}
	return nil
}

// componentsOf returns the full names of the components of r, a
// component (itself) or a group.
func componentsOf(r *api.Resource) ([]string, error) {
	var st struct {
		FullName   string   `json:"full_name"`  // a component's
		Components []string `json:"components"` // a group's
	}
	if err := r.DecodeStatus(&st); err != nil {
		return nil, err
	}
	if st.FullName != "" {
		return []string{st.FullName}, nil
	}
	if len(st.Components) == 0 {
		return nil, fmt.Errorf("%s has no components", r.Path)
	}
	return st.Components, nil
}

func hasLogs(r *api.Resource) bool {
	switch r.Kind {
	case api.KindApp, api.KindComponent, api.KindGroup, api.KindReplica:
		return true
	}
	return false
}

// replicaPaths returns the tree path of the replica of each pod of s: of
// a colocated group's pods, which appear under each of its components,
// the one under rel (the path the logs are of), else the first.
func replicaPaths(s *snapshot, prefix, rel string) map[string]string {
	best := map[string]string{}
	for p, r := range s.res {
		if r.Kind != api.KindReplica {
			continue
		}
		old, ok := best[r.Name]
		under, oldUnder := api.Within(p, rel), ok && api.Within(old, rel)
		if !ok || under && !oldUnder || under == oldUnder && p < old {
			best[r.Name] = p
		}
	}
	out := make(map[string]string, len(best))
	for pod, p := range best {
		out[pod] = prefix + p
	}
	return out
}

// Exec runs req.Command in the app's container of the pod of the replica
// at p (package podconn) and returns its exit status.
func (f *FS) Exec(ctx context.Context, p string, req tree.ExecRequest) (int, error) {
	l, r, err := f.find(ctx, p, false)
	if err != nil {
		return 0, err
	}
	if r == nil || r.Kind != api.KindReplica {
		return 0, tree.NotSupported("exec in", p)
	}
	if len(req.Command) == 0 {
		return 0, fmt.Errorf("exec in %s: no command: %w", p, tree.ErrInvalid)
	}
	c := l.view.c
	pod, err := c.Client.CoreV1().Pods(c.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", p, kubeError(err))
	}
	status, err := podconn.Exec(ctx, c.Config, c.Client.CoreV1().RESTClient(), pod, appContainer, req)
	if err != nil {
		return 0, fmt.Errorf("exec in %s (pod %s): %w (%w)", p, pod.Name, err, tree.ErrUnavailable)
	}
	return status, nil
}

// kubeError returns err, of the API server, wrapping the tree sentinel of
// its kind.
func kubeError(err error) error {
	kind := tree.ErrUnavailable
	switch {
	case apierrors.IsNotFound(err):
		kind = tree.ErrNotFound
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err):
		kind = tree.ErrForbidden
	case apierrors.IsConflict(err):
		kind = tree.ErrConflict
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		kind = tree.ErrInvalid
	}
	return fmt.Errorf("%w (%w)", err, kind)
}
