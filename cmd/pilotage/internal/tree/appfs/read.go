package appfs

import (
	"context"
	"strings"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// EnvContent is what cat shows of a replica's env node.
type EnvContent struct {
	PID int               `json:"pid"`
	Dir string            `json:"dir"` // its working directory
	Env map[string]string `json:"env"` // its environment, by name (JSON and YAML sort it)
}

// Read returns the content of the node at p: a fresh read of the
// supervisor's, never the cache's (but for a method's description).
func (f *FS) Read(ctx context.Context, p string, opts tree.ReadOptions) (tree.Content, error) {
	l, root, err := f.locate(ctx, p)
	switch {
	case err != nil:
		return tree.Content{}, err
	case root:
		return tree.Content{}, tree.NotSupported("read", p)
	case len(l.elems) == 2 && l.elems[0] == api.Config:
		// Read at once: the cache may not show a key just written
		// yet, or show one just removed.
		return f.readConfig(ctx, l, opts)
	}
	t, err := l.target()
	if err != nil {
		return tree.Content{}, err
	}
	if !t.node.Readable {
		return tree.Content{}, tree.NotSupported("read", p)
	}
	c := l.cache.client
	switch {
	case t.method != nil:
		return tree.Content{Value: *t.method}, nil
	case t.added == "" && t.entry.res.Kind == api.KindConfigKey:
		return f.readConfig(ctx, l, opts)
	case t.added == "", t.added == statusFile:
		r, err := c.Get(ctx, t.entry.res.Path)
		if err != nil {
			return tree.Content{}, f.fail(ctx, "read", l, err)
		}
		return tree.Content{Value: statusValue(r)}, nil
	case t.added == configFile:
		r, err := c.Get(ctx, t.entry.res.Path)
		if err != nil {
			return tree.Content{}, f.fail(ctx, "read", l, err)
		}
		var st api.ComponentStatus
		if err := r.DecodeStatus(&st); err != nil {
			return tree.Content{}, f.fail(ctx, "read", l, err)
		}
		if len(st.Config) == 0 {
			return tree.Content{Value: map[string]any{}}, nil
		}
		return tree.Content{Value: st.Config}, nil
	case t.added == logsFile:
		var b strings.Builder
		err := c.Logs(ctx, t.entry.res.Path, control.LogQuery{}, func(line api.LogLine) error {
			if !line.CaughtUp {
				b.WriteString(line.Message)
				b.WriteByte('\n')
			}
			return nil
		})
		if err != nil {
			return tree.Content{}, f.fail(ctx, "read", l, err)
		}
		return tree.Content{Value: b.String()}, nil
	case t.added == envFile:
		e, err := c.Env(ctx, t.entry.res.Path)
		if err != nil {
			return tree.Content{}, f.fail(ctx, "read", l, err)
		}
		return tree.Content{Value: EnvContent{PID: e.PID, Dir: e.Dir, Env: envMap(e.Env)}}, nil
	}
	return tree.Content{}, tree.NotSupported("read", p)
}

// envMap returns env ("KEY=value"...) by name; a name given twice has its
// last value, as the process sees it.
func envMap(env []string) map[string]string {
	out := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		out[k] = v
	}
	return out
}
