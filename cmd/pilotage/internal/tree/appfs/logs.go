package appfs

import (
	"context"
	"strings"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// Logs calls fn with the log lines of the processes under the node at p
// (an app, component, group, unit or replica, or the logs node of one),
// each with the path of the replica it came from (the app's, for the
// supervisor's own lines).
func (f *FS) Logs(ctx context.Context, p string, opts tree.LogOptions, fn func(tree.LogLine) error) error {
	l, t, err := f.find(ctx, p)
	if err != nil {
		return err
	}
	if l == nil || !t.node.Logs || t.method != nil {
		return tree.NotSupported("show logs of", p)
	}
	apiPath := t.entry.res.Path
	paths := f.sourcePaths(l, strings.TrimPrefix(apiPath, l.cache.apiRoot))
	q := control.LogQuery{Tail: opts.Tail, Since: opts.Since, Follow: opts.Follow}
	err = l.cache.client.Logs(ctx, apiPath, q, func(line api.LogLine) error {
		if line.CaughtUp {
			return nil
		}
		path, ok := paths[line.Source]
		if !ok {
			path = l.prefix
		}
		return fn(tree.LogLine{Time: line.Time, Path: path, Text: line.Message})
	})
	if err != nil {
		if opts.Follow && ctx.Err() != nil {
			return nil
		}
		return f.fail(ctx, "show logs of", l, err)
	}
	return nil
}

// sourcePaths returns the tree path of the replica of each log source of
// app l, as the cache has them: of a colocated group's replicas, which
// appear under each of its components, the one under rel (the path the
// logs are of, relative to the app), else the first.
func (f *FS) sourcePaths(l *loc, rel string) map[string]string {
	best := map[string]string{} // source -> relative path
	l.cache.snapshot(func(entries map[string]*entry, _ map[string]map[string]bool) {
		for p, e := range entries {
			if e.source == "" {
				continue
			}
			old, ok := best[e.source]
			under, oldUnder := api.Within(p, rel), ok && api.Within(old, rel)
			if !ok || under && !oldUnder || under == oldUnder && p < old {
				best[e.source] = p
			}
		}
	})
	out := make(map[string]string, len(best))
	for src, p := range best {
		out[src] = l.prefix + p
	}
	return out
}
