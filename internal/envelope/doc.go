// Package envelope is the protocol between the runtime inside an
// application binary (internal/proclet) and whatever deploys it: the
// supervisor of "pilotage run" today, a per-pod envelope process on
// Kubernetes later. A deployer is any process that speaks it; the runtime
// does not know which one it talks to.
//
// # Transport
//
// The deployer starts the application binary with one end of a stream
// socket (a Unix socketpair) as an inherited file descriptor, and sets
// EnvVar ($PILOTAGE_ENVELOPE) to that descriptor's number. Nothing else
// travels in the environment. Both sides then exchange newline-delimited
// JSON objects, each with a "type" (the Message types below); a line is at
// most MaxLineSize bytes. Each side reads with a Conn, which turns a
// protocol violation into an error: the peer's first message does not
// carry ProtocolVersion, a message type this side does not know, a line
// too long, or bad JSON. Such an error says what to upgrade: the app's
// github.com/pilotage/pilotage module (then rebuild the app), or the
// pilotage command. Fields a side does not know are ignored, so a field
// may be added within a version; a message type may not: every type
// belongs to a ProtocolVersion, and a new one comes with the next
// version, so that an older peer is told to upgrade rather than left to
// guess what it missed.
//
// # Conversation
//
// The deployer speaks first, and may send these at once, without waiting:
//
//   - Init: who the runtime is (app, deployment, group, replica id), what
//     it hosts (components), where it listens (listeners, rpc_listen),
//     what address others dial to reach it (rpc_advertise), its config
//     file, how to check its health, and where its coordination store is
//     (coordination: etcd endpoints and the app's key prefix; without it,
//     the runtime's store is an in-memory one of its own process).
//   - Routes: for every component, the RPC addresses of its ready
//     replicas, and for one without any, why (an Outage). The first Routes
//     must arrive before the runtime starts any component (within ten
//     seconds of Init); after that, a new one replaces the whole table
//     whenever it changes.
//
// The runtime answers Init with Hello (its pid and advertised RPC address)
// once its RPC server listens, or, if it refuses the Init (another
// protocol version), with Failed; it then reports Listening for each
// listener it opened, ComponentStarting and ComponentReady around each
// component's Init, and Ready once every hosted component is ready and
// healthy. It checks its components' health every Health.Interval and,
// once Health.FailureThreshold checks in a row have failed (or exceeded
// Health.Timeout), sends Unhealthy, and again after each further failure,
// until a check passes: the deployer should replace it. AppDone says the
// app function returned nil (the process then exits 0 and should not be
// restarted); Failed carries the error the process is about to exit with.
//
// CallHealth, sent whenever it changes, tells which replicas of the
// components this runtime calls it ejected for failing or timing out, and
// for which components it ejected them all (an open circuit); a deployer
// shows it (pilotage status does) and need not act on it.
//
// With Init.Telemetry, the runtime traces calls (OpenTelemetry spans, a
// fraction SampleRatio of new traces) and counts them, and every Interval
// sends Spans (the spans that ended since the last) and Metrics (its
// cumulative counters per component method, and its CPU time, resident
// memory and goroutines), and once more as it shuts down. The deployer
// exports and serves them: the runtime holds no exporter.
//
// At any time the deployer may send Ping, which the runtime answers at
// once with a Pong carrying the same Seq, from the goroutine that reads
// the socket (so an unanswered Ping means the process is frozen, never
// that the app is busy), and Stop, after which the runtime shuts down
// (the app function is cancelled, calls in flight drain, components shut
// down dependents first) and exits. EOF on the socket means the deployer
// is gone: the runtime shuts down and exits too.
//
// # Writing a deployer
//
// A deployer (the Kubernetes one, say: the pilotage binary as a pod's
// entrypoint, starting the app binary as its child) needs only this
// package: create a socketpair, start the binary with one end as fd N and
// PILOTAGE_ENVELOPE=N, wrap the other end with NewConn(c, Deployer), send
// Init and a first Routes, then serve Receive: map Ready and Unhealthy to
// its own probes, and push Routes from its own discovery (EndpointSlices,
// a registry). Replica ids are the deployer's own ("cart.Cart/1", a pod
// name); rpc_listen is what to bind ("tcp::10000"), rpc_advertise what
// others dial ("tcp:10.1.2.3:10000"). Every RPC connection is refused
// unless both ends run the same Deployment, so give every replica of one
// build the same one.
//
// A deployer that names a coordination store gives every replica of the
// app the same endpoints and prefix ("/pilotage/<app>/"), and revokes the
// sessions of a replica's process the moment it sees that process die:
// the runtime registers each session under
// <prefix>sessions/<replica>/<pid>/, and the coordination library's
// Store.RevokeReplica revokes them, so that a crashed lock holder or
// leader is replaced at once rather than after its lease's TTL.
package envelope
