package supervisor

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
)

// The control API against the real supervisor: the tree, a watch that
// sees a replica restarted through it and a component stopped, and typed
// errors.
func TestControlAPI(t *testing.T) {
	t.Parallel()
	h := start(t, desc("*main.Main:b.B", "b.B"), "[run]\nreplicas = 1\n[run.components.\"b.B\"]\nreplicas = 2\n")
	h.waitReady()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := h.cl

	if app, err := c.App(ctx); err != nil || app != "test" {
		t.Fatalf("app: %q, %v", app, err)
	}
	var as api.AppStatus
	if r, err := c.Get(ctx, "/apps/test"); err != nil || r.DecodeStatus(&as) != nil || as.Deployment != h.s.plan.Deployment || !strings.HasPrefix(as.Deployment, "test-") {
		t.Errorf("the app's deployment = %q (%v), want the plan's %q", as.Deployment, err, h.s.plan.Deployment)
	}
	const b = "/apps/test/components/b.B"
	r, err := c.Get(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	var cs api.ComponentStatus
	if err := r.DecodeStatus(&cs); err != nil || cs.State != api.Ready || cs.ReadyReplicas != 2 || cs.FullName != "example.com/app/b.B" || !r.Accepts(api.ActionRestart) {
		t.Fatalf("get %s: %+v %+v, %v", b, r, cs, err)
	}
	l, err := c.List(ctx, b+"/replicas", false)
	if err != nil || len(l.Items) != 2 {
		t.Fatalf("replicas: %+v, %v", l, err)
	}
	var before api.ReplicaStatus
	if err := l.Items[1].DecodeStatus(&before); err != nil || before.PID == 0 || before.Source != "b.B/1" {
		t.Fatalf("replica 1: %+v, %v", before, err)
	}

	w, err := c.Watch(ctx, b, control.WatchOptions{Recursive: true, ResourceVersion: l.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// By name, as "pilotage restart b.B/1" does: the component's group has
	// the component's name, and the replica must still be found.
	if p, err := c.Resolve(ctx, "b.B/1"); err != nil || p != b+"/replicas/1" {
		t.Fatalf("Resolve(b.B/1) = %q, %v", p, err)
	}
	res, err := c.Act(ctx, b+"/replicas/1", api.ActionRestart)
	if err != nil || !res.Settled || res.State != api.Ready {
		t.Fatalf("restart b.B/1: %+v, %v", res, err)
	}
	// The watch sees replica 1 go and come back with another process.
	var states []api.State
	for {
		ev, err := w.Next()
		if err != nil {
			t.Fatalf("watch: %v (states so far %v)", err, states)
		}
		if ev.Type != api.Modified || ev.Resource.Path != b+"/replicas/1" {
			continue
		}
		var rs api.ReplicaStatus
		if err := ev.Resource.DecodeStatus(&rs); err != nil {
			t.Fatal(err)
		}
		states = append(states, rs.State)
		if rs.State == api.Ready && rs.PID != 0 && rs.PID != before.PID {
			break
		}
	}
	if states[0] == api.Ready {
		t.Errorf("replica 1 went through %v: never out of service", states)
	}
	// Stopping the component: its resource says so.
	if res, err := c.Act(ctx, b, api.ActionStop); err != nil || !res.Settled || res.State != api.Stopped {
		t.Fatalf("stop b.B: %+v, %v", res, err)
	}
	for {
		ev, err := w.Next()
		if err != nil {
			t.Fatalf("watch: %v", err)
		}
		var st api.ComponentStatus
		if ev.Resource != nil && ev.Resource.Path == b && ev.Resource.DecodeStatus(&st) == nil && st.State == api.Stopped {
			break
		}
	}

	// Typed errors.
	if _, err := c.Get(ctx, "/apps/test/components/nope.Nope"); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("get of nothing: %v", err)
	}
	if _, err := c.Act(ctx, b+"/replicas/0", api.ActionRestart); !errors.Is(err, api.ErrConflict) || !strings.Contains(err.Error(), "is not running") {
		t.Errorf("restart of a stopped replica: %v", err)
	}
	if _, err := c.Act(ctx, "/apps/test/startup", api.ActionRestart); !errors.Is(err, api.ErrBadRequest) {
		t.Errorf("restart of startup: %v", err)
	}
	if err := c.Logs(ctx, "/apps/test", control.LogQuery{}, func(api.LogLine) error { return nil }); !errors.Is(err, api.ErrUnavailable) {
		t.Errorf("logs of a supervisor keeping none: %v", err)
	}
	// The status the commands print is made from the same tree.
	if u := h.unit("b.B"); u.State != control.Stopped || len(u.Replicas) != 2 {
		t.Errorf("status of b.B: %+v", u)
	}
}
