// Package envelope is the deployer side of the envelope protocol
// (internal/envelope) inside a pod made by "pilotage deploy": the pod's
// entrypoint, "pilotage kube-envelope", runs it. It is what the
// supervisor of "pilotage run" is to a local replica, for one replica:
//
//   - it resolves the app's components from the EndpointSlices of its
//     version's group Services and pushes them to the runtime as Routes,
//     so a replica only ever calls replicas of its own version;
//   - it starts the app binary once every group its group calls has a
//     ready pod (the dependency order "pilotage run" keeps) and the
//     app's coordination store, if it uses one, answers; with the Init
//     that names the group, the version, the pod's addresses and the
//     store;
//   - it serves the kubelet's probes: /readyz is the runtime's Ready and
//     the needed groups having ready pods, /healthz the runtime answering
//     pings and not reporting itself unhealthy;
//   - on SIGTERM it leaves the endpoints first (not ready), waits for
//     callers to see that, then stops the runtime, which drains in-flight
//     calls.
//
// The app's output goes to the container's, so "kubectl logs" and
// "pilotage logs" read it.
package envelope
