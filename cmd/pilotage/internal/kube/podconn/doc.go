// Package podconn reaches into a pod through its cluster's API server, as
// kubectl does: Exec runs a command in a container (the pod's exec
// subresource, over WebSocket with a fallback to SPDY), Forward opens a
// local port that reaches a port of the pod (its portforward
// subresource, over SPDY). The shell's trees use it: /kube's pods and
// containers (package kubefs) and a deployed app's replicas and
// coordination store (package deployfs).
package podconn
