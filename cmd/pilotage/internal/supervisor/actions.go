package supervisor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/logstore"
)

// settlePoll is how often Act looks whether an action settled.
const settlePoll = 20 * time.Millisecond

// Act performs action on the resource at path (see control.Backend): stop,
// start or restart the group or unit of a component, group or unit, or
// restart one replica; it waits until that settles or ctx is done. The
// resources of the coordination store are acted on in coordactions.go.
func (s *Supervisor) Act(ctx context.Context, path, action string) (*api.ActionResult, error) {
	if elems, ok := coordPath(path); ok {
		return s.coordAct(ctx, path, elems, action)
	}
	s.mu.Lock()
	n, sl, asked, err := s.locate(path)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	if s.shutting {
		s.mu.Unlock()
		return nil, api.Errorf(api.CodeUnavailable, "%s is shutting down", s.plan.App)
	}
	res := &api.ActionResult{Path: path, Action: action, Group: n.Name, Components: nonNil(n.Components)}
	note := groupNote(n, asked)
	if sl != nil {
		err = s.restartReplica(sl, action)
	} else {
		err = s.actOnNode(n, action, note)
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	s.notifyChange()

	what := fmt.Sprintf("%s %s", n.kind(), n.Name)
	if sl != nil {
		what = "replica " + sl.source()
	}
	tick := time.NewTicker(settlePoll)
	defer tick.Stop()
	for {
		s.mu.Lock()
		state, why, settled := s.settled(n, sl, action)
		s.mu.Unlock()
		res.State = wireState(state, sl == nil && n.done || sl != nil && sl.done)
		if settled {
			res.Settled = true
			res.Message = fmt.Sprintf("%s: %s%s", what, state, note)
			if (state == stateFailed || state == stateDegraded || n.done) && why != "" {
				res.Message += ": " + why
			}
			return res, nil
		}
		select {
		case <-ctx.Done():
			res.Message = fmt.Sprintf("%s: still %s%s", what, state, note)
			if why != "" {
				res.Message += ": " + why
			}
			return res, nil
		case <-tick.C:
		}
	}
}

// actOnNode starts action on n. s.mu is held.
func (s *Supervisor) actOnNode(n *node, action, note string) error {
	switch action {
	case api.ActionStop:
		s.out.logf("stop %s %s requested%s", n.kind(), n.Name, note)
		s.stopNode(n)
	case api.ActionStart:
		s.out.logf("start %s %s requested%s", n.kind(), n.Name, note)
		s.startNode(n)
	case api.ActionRestart:
		s.out.logf("restart %s %s requested%s", n.kind(), n.Name, note)
		s.restartNode(n)
	default:
		return api.Errorf(api.CodeBadRequest, "unknown action %q", action)
	}
	return nil
}

// restartReplica replaces the process of sl, as one step of a rolling
// restart. s.mu is held.
func (s *Supervisor) restartReplica(sl *slot, action string) error {
	n := sl.node
	switch {
	case action != api.ActionRestart:
		return api.Errorf(api.CodeBadRequest, "a replica accepts restart, not %q", action)
	case !n.want || !n.launched:
		return api.Errorf(api.CodeConflict, "%s %s is not running: start it", n.kind(), n.Name)
	case n.rollingSlot != nil:
		return api.Errorf(api.CodeConflict, "%s %s is being restarted already (%s)", n.kind(), n.Name, n.rollingSlot.source())
	case sl.done:
		return api.Errorf(api.CodeConflict, "%s finished its work", sl.source())
	}
	s.out.logf("restart of %s requested", sl.source())
	n.rolling, n.rollingOne = []*slot{sl}, true
	s.rollNext(n)
	return nil
}

// settled returns the state an action on n (or its replica sl) has led
// to so far, why, and whether it is final: stopped, or ready, or failed,
// or (a unit) exited for good. s.mu is held.
func (s *Supervisor) settled(n *node, sl *slot, action string) (runState, string, bool) {
	if sl != nil {
		state := sl.state
		if sl.p.serving() {
			state = stateReady
		}
		return state, sl.why, n.rollingSlot != sl && (state == stateReady || sl.done) || state == stateFailed
	}
	state := nodeState(n)
	why, done := n.why, n.done
	if state == stateDegraded {
		why = degradedWhy(n)
	}
	busy := settling(n)
	return state, why, state == stateFailed ||
		(action == api.ActionStop && state == stateStopped) ||
		(action != api.ActionStop && (state == stateReady || done || state == stateDegraded && !busy))
}

// Logs streams the log lines of the processes under path (see
// control.Backend) from the supervisor's log store.
func (s *Supervisor) Logs(ctx context.Context, path string, q control.LogQuery, emit func(api.LogLine) error) error {
	r, ok := s.opts.Logs.(reopener)
	if !ok {
		return api.Errorf(api.CodeUnavailable, "%s keeps no logs (run without a log store)", s.plan.App)
	}
	sources, err := s.logSources(path)
	if err != nil {
		return err
	}
	if len(q.Sources) > 0 && sources != nil {
		return api.Errorf(api.CodeBadRequest, "logs of %s: sources select among the app's logs: ask for those of the app", path)
	}
	known := sources != nil // of a resource of the tree: it may have no lines yet
	if !known {
		sources = q.Sources
	}
	lq := logstore.Query{Sources: sources, SourcesExist: known, Follow: q.Follow, Since: q.Since, Tail: q.Tail, Context: ctx}
	err = logstore.Stream(r.Dir(), lq, func(rec logstore.Record) error {
		return emit(api.LogLine{Time: rec.Time, Source: rec.Source, Message: rec.Message, Width: rec.Width})
	}, func() error { return emit(api.LogLine{CaughtUp: true}) })
	if errors.Is(err, logstore.ErrNoSource) {
		return api.Wrap(api.CodeNotFound, err.Error(), err)
	}
	return err
}
