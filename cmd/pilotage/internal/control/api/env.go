package api

// ReplicaEnv is the answer of GET /v2/env/<path of a Replica>: how the
// supervisor started the replica's current process, so that a client on
// the same machine can run a command as if in it (the shell's exec).
type ReplicaEnv struct {
	Path string `json:"path"`
	PID  int    `json:"pid"` // the replica's process (a unit's program, not its shim)
	// Dir is the process's working directory.
	Dir string `json:"dir"`
	// Env is the process's environment, "KEY=value" in the order it was
	// given: the supervisor's own, then what the app's configuration adds.
	// The variables by which the supervisor talks to its process are left
	// out.
	Env []string `json:"env"`
}
