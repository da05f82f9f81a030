package control

import (
	"context"
	"fmt"
	"strings"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/analyze"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
)

// ActionResult is the result of Stop, Start or Restart, as the commands
// print it.
type ActionResult struct {
	Op         string   `json:"op"`
	Name       string   `json:"name"`       // as asked
	Group      string   `json:"group"`      // the process group acted on
	Components []string `json:"components"` // every component of that group
	State      string   `json:"state"`      // the state once the action settled, or when the wait ended
	Settled    bool     `json:"settled"`    // false: the wait limit passed first; State is not final
	Message    string   `json:"message"`    // one line for humans
}

// Stop stops every replica of the group hosting name (a component or unit).
func (c *Client) Stop(ctx context.Context, name string) (*ActionResult, error) {
	return c.actOn(ctx, api.ActionStop, name)
}

// Start starts a stopped or failed component or unit.
func (c *Client) Start(ctx context.Context, name string) (*ActionResult, error) {
	return c.actOn(ctx, api.ActionStart, name)
}

// Restart stops then starts a component or unit.
func (c *Client) Restart(ctx context.Context, name string) (*ActionResult, error) {
	return c.actOn(ctx, api.ActionRestart, name)
}

func (c *Client) actOn(ctx context.Context, action, name string) (*ActionResult, error) {
	path, err := c.Resolve(ctx, name)
	if err != nil {
		return nil, err
	}
	r, err := c.Act(ctx, path, action)
	if err != nil {
		return nil, err
	}
	return &ActionResult{Op: action, Name: name, Group: r.Group, Components: nonNil(r.Components),
		State: statusState(r.State), Settled: r.Settled, Message: r.Message}, nil
}

// Resolve returns the path of what name names in the app the supervisor
// runs: a unit, a component (by full name, or by short name if no other
// component has it) or a group, or one replica of a component or unit,
// named as in logs ("cart.Cart/1"). An unknown name is an error wrapping
// ErrNotFound, a short name several components share one wrapping
// ErrAmbiguous.
func (c *Client) Resolve(ctx context.Context, name string) (string, error) {
	l, err := c.List(ctx, "/", true)
	if err != nil {
		return "", err
	}
	t, err := newTreeView(l.Items)
	if err != nil {
		return "", err
	}
	if i := strings.LastIndexByte(name, '/'); i > 0 && isIndex(name[i+1:]) {
		if p, err := t.resolve(name[:i]); err == nil {
			rp := p + "/" + api.Replicas + "/" + name[i+1:]
			if r := t.byPath[rp]; r != nil && r.Kind == api.KindReplica {
				return rp, nil
			}
			if n := len(t.children[p+"/"+api.Replicas]); n > 0 {
				return "", api.Errorf(api.CodeNotFound, "%s has no replica %s (its replicas are 0 to %d)", name[:i], name[i+1:], n-1)
			}
		}
	}
	return t.resolve(name)
}

// isIndex reports whether s is a replica index: digits, without a
// leading zero.
func isIndex(s string) bool {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func (t *treeView) resolve(name string) (string, error) {
	app := t.app.Name
	if r := t.byPath[api.Join(api.Apps, app, api.Units, name)]; r != nil && r.Kind == api.KindUnit {
		return r.Path, nil
	}
	var shorts, found []string
	for _, r := range t.kind(api.KindComponent) {
		var c api.ComponentStatus
		if err := r.DecodeStatus(&c); err != nil {
			return "", err
		}
		if c.FullName == name {
			return r.Path, nil
		}
		short := shortName(c.FullName)
		shorts = append(shorts, short)
		if short == name {
			found = append(found, r.Path)
		}
	}
	if len(found) == 1 {
		return found[0], nil
	}
	// A group of one component has the component's name: the component
	// (whose path has replicas) comes first.
	if r := t.byPath[api.Join(api.Apps, app, api.Groups, name)]; r != nil && r.Kind == api.KindGroup {
		return r.Path, nil
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("%w: %q (components: %s)", ErrNotFound, name, strings.Join(shorts, ", "))
	}
	var fulls []string
	for _, p := range found {
		fulls = append(fulls, api.Base(p))
	}
	return "", fmt.Errorf("%w: %q names %s: use the full name", ErrAmbiguous, name, strings.Join(fulls, ", "))
}

// App returns the name of the app the supervisor runs.
func (c *Client) App(ctx context.Context) (string, error) {
	l, err := c.List(ctx, api.Join(api.Apps), false)
	if err != nil {
		return "", err
	}
	if len(l.Items) != 1 {
		return "", api.Errorf(api.CodeNotFound, "control: the supervisor serves %d apps, not one", len(l.Items))
	}
	return l.Items[0].Name, nil
}

// AnalyzeUnit is what "pilotage analyze" prints a critical chain or blame
// of: the startup of one component or unit.
type AnalyzeUnit = analyze.Unit

// Analyze returns the start and ready times of components and units, from
// the app's Startup resource.
func (c *Client) Analyze(ctx context.Context) ([]AnalyzeUnit, error) {
	app, err := c.App(ctx)
	if err != nil {
		return nil, err
	}
	r, err := c.Get(ctx, api.Join(api.Apps, app, api.Startup))
	if err != nil {
		return nil, err
	}
	var st api.StartupStatus
	if err := r.DecodeStatus(&st); err != nil {
		return nil, err
	}
	out := make([]AnalyzeUnit, 0, len(st.Units))
	for _, u := range st.Units {
		out = append(out, AnalyzeUnit{Name: u.Name, Start: u.Start, Ready: u.Ready, After: u.After})
	}
	return out, nil
}
