// Package control is the control API of a running "pilotage run"
// supervisor: HTTP and JSON over the Unix socket control.sock in the
// application's state directory. The supervisor serves it (Serve); the
// pilotage commands status, stop, start, restart and analyze are clients
// (Dial).
//
//	GET  /v1/status                      the Status of every component and unit
//	POST /v1/units/{name}/{stop|start|restart}[?wait=50s]
//	                                     acts, and waits up to wait (default
//	                                     30s) for the result to settle
//	GET  /v1/analyze                     start/ready times and dependencies
//
// The package also knows the layout of state directories (StateDir, one
// per app and source directory, described by AppFile), finds the app a
// command means (Find), and holds the single-instance lock (Lock).
package control
