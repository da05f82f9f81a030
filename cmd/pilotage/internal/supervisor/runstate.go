package supervisor

// A runState is where a node or a replica slot stands, as the supervisor
// tracks it. It is internal: the control API shows states of its own
// (api.State), which wireState maps these onto, in one place.
type runState string

// The run states, as in systemd, plus two of replicated components.
const (
	stateStarting   runState = "starting"
	stateReady      runState = "ready"
	stateStopping   runState = "stopping"
	stateStopped    runState = "stopped"
	stateFailed     runState = "failed"
	stateRestarting runState = "restarting"
	// stateDegraded: some replicas of a node serve, others are down
	// (restarting, failed, unresponsive).
	stateDegraded runState = "degraded"
	// stateUnresponsive: a replica that stopped answering the supervisor's
	// pings; it takes no calls, and is killed if it stays silent.
	stateUnresponsive runState = "unresponsive"
)
