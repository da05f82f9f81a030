// Package supervisor runs an application as several processes on one
// machine, the engine of "pilotage run". It lays the application's
// components out in colocation groups (plan.go), starts one or more replica
// processes ("proclets") per group in dependency order, like systemd units
// with Requires= and After= (supervisor.go, lifecycle.go), is their
// deployer in the envelope protocol (package envelope) over a socketpair
// (process.go, conn.go, replica.go), pushes the addresses of ready replicas
// to every proclet (routes.go), balances each named listener over the
// replicas serving it (proxy.go), restarts what fails with a backoff and a
// start limit (restart.go), and stops everything in reverse dependency order.
// It also runs the non-Go programs of [units] sections, with a readiness
// probe. It is the backend of the control API (package control): its
// state as a tree of resources (resources.go, with its internal run states
// mapped onto the API's in status.go), their actions and its logs
// (actions.go).
//
// Children never outlive the supervisor: they are started from one locked OS
// thread with a parent-death signal, in their own process group, which is
// what stop signals reach; a proclet exits when its envelope socket reaches
// EOF; a unit runs under a shim that ends its descendants (shim.go).
package supervisor
