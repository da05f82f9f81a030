package supervisor

import (
	"fmt"
	"strings"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
)

// nodeState sums up a node's replicas in one systemd-like state.
func nodeState(n *node) runState {
	switch {
	case n.failed:
		return stateFailed
	case n.done:
		return stateStopped
	case !n.want && n.live():
		return stateStopping
	case !n.want:
		return stateStopped
	}
	var ready, restarting, stopping, failed, down, done int
	for _, sl := range n.slots {
		if sl.done {
			done++
			continue
		}
		if sl.p.serving() {
			ready++
			continue
		}
		switch sl.state {
		case stateRestarting:
			restarting++
			down++
		case stateStopping:
			stopping++
		case stateFailed:
			failed++
			down++
		case stateUnresponsive:
			down++
		}
	}
	switch {
	case done == len(n.slots):
		return stateStopped // the main component returned
	case n.rollingSlot != nil:
		return stateRestarting
	case ready+done == len(n.slots):
		return stateReady
	case ready > 0 && down > 0:
		return stateDegraded
	case failed == len(n.slots)-done:
		return stateFailed
	case restarting > 0 || stopping > 0 && n.launched:
		return stateRestarting
	case !n.launched && n.live():
		return stateRestarting // stopping to start again
	}
	return stateStarting
}

// settling reports whether a start or restart of n is still under way:
// some replica is starting or restarting (not failed and waiting for its
// cool-down).
func settling(n *node) bool {
	if n.rollingSlot != nil {
		return true
	}
	for _, sl := range n.slots {
		if sl.done || sl.p.serving() {
			continue
		}
		if sl.state != stateFailed && sl.state != stateUnresponsive {
			return true
		}
	}
	return false
}

// degradedWhy says which replicas of n are down, and why.
func degradedWhy(n *node) string {
	var down []string
	ready := 0
	for _, sl := range n.slots {
		switch {
		case sl.done:
		case sl.p.serving():
			ready++
		default:
			d := fmt.Sprintf("%s %s", sl.source(), sl.state)
			if sl.why != "" {
				d += " (" + sl.why + ")"
			}
			down = append(down, d)
		}
	}
	return fmt.Sprintf("%d of %d replicas serve; %s", ready, len(n.slots), strings.Join(down, "; "))
}

func probeTarget(n *node) string {
	switch p := n.Unit.Ready; {
	case p.TCP != "":
		return p.TCP
	case p.HTTP != "":
		return p.HTTP
	}
	return ""
}

// wireState maps a run state onto the control API's: the one place where
// the supervisor's states meet the wire's. done says the node or replica
// finished its work (the main component returned, a unit exited 0), which
// the supervisor tracks as stopped and the API shows as Completed.
func wireState(st runState, done bool) api.State {
	switch st {
	case stateStarting:
		return api.Starting
	case stateReady:
		return api.Ready
	case stateDegraded:
		return api.Degraded
	case stateRestarting:
		return api.Restarting
	case stateUnresponsive:
		return api.Unresponsive
	case stateStopping:
		return api.Stopping
	case stateStopped:
		if done {
			return api.Completed
		}
		return api.Stopped
	case stateFailed:
		return api.Failed
	}
	return api.Unknown
}

// nodeWire returns the API state of n, and why it is not ready. s.mu is
// held.
func nodeWire(n *node) (api.State, string) {
	st, why := nodeState(n), n.why
	if st == stateDegraded {
		why = degradedWhy(n)
	}
	return wireState(st, n.done || allDone(n)), why
}

// slotWire returns the API state of sl. s.mu is held.
func slotWire(sl *slot) api.State {
	if sl.node.failed && sl.p == nil {
		return api.Failed
	}
	return wireState(sl.state, sl.done)
}

// allDone reports whether every replica of n finished its work.
func allDone(n *node) bool {
	for _, sl := range n.slots {
		if !sl.done {
			return false
		}
	}
	return len(n.slots) > 0
}
