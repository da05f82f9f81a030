package appfs

import (
	"context"
	"errors"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// Watch calls fn with every change of the children of the directory at p
// until ctx ends: from the cache's changes inside an app, from the state
// directories (read every rescanInterval) for /apps.
func (f *FS) Watch(ctx context.Context, p string, fn func(tree.Event)) error {
	var prev []tree.Node
	for listed := false; ; listed = true {
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
		if listed {
			for _, ev := range tree.Diff(prev, nodes) {
				fn(ev)
			}
		}
		prev = nodes
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
