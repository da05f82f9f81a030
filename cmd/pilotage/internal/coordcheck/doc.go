// Package coordcheck checks that the coordination store
// (github.com/pilotage/pilotage/coord) is linearizable, with porcupine
// (github.com/anishathalye/porcupine), on histories recorded from
// concurrent clients: processes on a real embedded etcd that the test
// kills and pauses, and goroutines on the in-memory store.
//
// It has two models: a key/value store with revisions (KVModel) and locks
// with fencing tokens (LockModel). Clients run the workloads of this
// package (RunKV, RunLocks), writing each operation's invocation before it
// is issued and its result after it returns to a Recorder; Operations
// turns the records into a porcupine history, in which an operation whose
// client died, or whose call failed without saying whether it took effect,
// has no return: it may take effect at any time after its call, or never.
package coordcheck
