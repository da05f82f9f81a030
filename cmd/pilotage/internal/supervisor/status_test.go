package supervisor

import (
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
)

// Status returns the state of every component and unit, as "pilotage
// status" shows it: the commands build it from the control API, tests
// from the supervisor's own snapshot.
func (s *Supervisor) Status() *control.Status { return statusOf(s.resources(nil)) }

// Status is the Supervisor's, with the problems.
func (b watchedBackend) Status() *control.Status { return statusOf(b.Snapshot()) }

// statusOf returns the Status of a snapshot.
func statusOf(items []control.Item) *control.Status {
	rs := make([]api.Resource, len(items))
	for i, it := range items {
		rs[i] = it.Resource
		if it.Live != nil {
			rs[i].Status = it.Live
		}
	}
	st, err := control.StatusOf(rs, time.Now())
	if err != nil {
		panic(err) // a bug: the snapshot is the supervisor's own
	}
	return st
}
