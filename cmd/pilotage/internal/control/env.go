package control

import (
	"context"
	"net/http"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
)

// An EnvBackend is a Backend that also says how it started the process of
// a replica (GET /v2/env), so that a client on the same machine can run a
// command in its environment.
type EnvBackend interface {
	Backend
	// Env returns the environment and working directory of the current
	// process of the replica at path (an existing Replica resource); a
	// replica with no process is an error of code CodeConflict.
	Env(ctx context.Context, path string) (*api.ReplicaEnv, error)
}

// envTimeout bounds a call of an EnvBackend.
const envTimeout = 10 * time.Second

// env serves GET /v2/env/<path>.
func (s *Server) env(w http.ResponseWriter, r *http.Request, b Backend) {
	path, err := resourcePath(r, "/v2/env")
	if err != nil {
		writeError(w, err)
		return
	}
	res, ok := s.feed.get(path)
	switch {
	case !ok:
		writeError(w, api.Errorf(api.CodeNotFound, "no resource at %s", path))
		return
	case res.Kind != api.KindReplica:
		writeError(w, api.Errorf(api.CodeBadRequest, "%s %s has no environment: ask for that of a replica", res.Kind, path))
		return
	}
	eb, ok := b.(EnvBackend)
	if !ok {
		writeError(w, api.Errorf(api.CodeNotFound, "%s: this supervisor does not tell the environment of its replicas", path))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), envTimeout)
	defer cancel()
	e, err := eb.Env(ctx, path)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, e)
}

// Env returns the environment and working directory of the current
// process of the replica at path. A replica with no process (stopped,
// between restarts) is an error matching api.ErrConflict.
func (c *Client) Env(ctx context.Context, path string) (*api.ReplicaEnv, error) {
	var e api.ReplicaEnv
	if err := c.call(ctx, http.MethodGet, "/v2/env", path, nil, &e); err != nil {
		return nil, err
	}
	return &e, nil
}
