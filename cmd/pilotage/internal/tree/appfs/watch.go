package appfs

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// Watch calls fn with every change of the children of the directory at p
// until ctx ends: from the cache's changes inside an app, from the state
// directories (read every rescanInterval) for /apps.
func (f *FS) Watch(ctx context.Context, p string, fn func(tree.Event)) error {
	var prev map[string]tree.Node
	for {
		var (
			changed <-chan struct{}
			tick    <-chan time.Time
		)
		l, root, err := f.locate(ctx, p)
		if err != nil {
			return watchEnd(ctx, err)
		}
		if root {
			tick = time.After(rescanInterval) // collected once fired or dropped
		} else {
			changed = l.cache.changes()
		}
		nodes, err := f.List(ctx, p)
		if err != nil {
			return watchEnd(ctx, err)
		}
		now := make(map[string]tree.Node, len(nodes))
		for _, n := range nodes {
			now[n.Name] = n
		}
		if prev != nil {
			for _, ev := range diff(prev, now, nodes) {
				fn(ev)
			}
		}
		prev = now
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-tick:
		}
	}
}

// watchEnd returns the error a watch ends with: none once ctx ended.
func watchEnd(ctx context.Context, err error) error {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return nil
	}
	return err
}

// diff returns the events that make prev now (whose nodes, in order, are
// nodes): deletions by name, then additions and changes in order.
func diff(prev, now map[string]tree.Node, nodes []tree.Node) []tree.Event {
	var out []tree.Event
	var gone []string
	for name := range prev {
		if _, ok := now[name]; !ok {
			gone = append(gone, name)
		}
	}
	slices.SortFunc(gone, byName)
	for _, name := range gone {
		out = append(out, tree.Event{Type: tree.Deleted, Node: prev[name]})
	}
	for _, n := range nodes {
		old, ok := prev[n.Name]
		switch {
		case !ok:
			out = append(out, tree.Event{Type: tree.Added, Node: n})
		case !reflect.DeepEqual(old, n):
			out = append(out, tree.Event{Type: tree.Modified, Node: n})
		}
	}
	return out
}
