package supervisor

import (
	"context"
	"os"
	"strings"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/internal/envelope"
)

var _ control.EnvBackend = (*Supervisor)(nil)

// Env returns the environment and working directory the current process
// of the replica at path was started with (see control.EnvBackend):
// those of its command (a unit's shim runs its program with its own), less
// the variables of the envelope protocol.
func (s *Supervisor) Env(_ context.Context, path string) (*api.ReplicaEnv, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, sl, _, err := s.locate(path)
	if err != nil {
		return nil, err
	}
	if sl == nil {
		return nil, api.Errorf(api.CodeBadRequest, "%s is not a replica: ask for the environment of one", path)
	}
	p := sl.p
	if p == nil || p.cmd == nil {
		return nil, api.Errorf(api.CodeConflict, "replica %s has no process now (%s)", sl.source(), strings.ToLower(string(slotWire(sl))))
	}
	dir := p.cmd.Dir
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, api.Errorf(api.CodeInternal, "replica %s: its working directory, the supervisor's: %w", sl.source(), err)
		}
		dir = wd
	}
	env := make([]string, 0, len(p.cmd.Env))
	for _, kv := range p.cmd.Env {
		if !strings.HasPrefix(kv, envelope.EnvVar+"=") {
			env = append(env, kv)
		}
	}
	return &api.ReplicaEnv{Path: path, PID: p.pid, Dir: dir, Env: env}, nil
}
