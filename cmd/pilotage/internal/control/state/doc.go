// Package state knows the state directories of "pilotage run": one per app
// and source directory (StateDir, AppID), private to the user, holding
//
//	lock          flock held by the supervisor while it runs: "pid app" (Lock, Probe)
//	app.json      which app, from where, since when (AppInfo)
//	control.sock  the control API (package control)
//	sock/         the replicas' RPC sockets
//	bin/<app>     the binary built from source
//	logs/         the processes' output (package logstore)
//
// and finds the app a command means among them (Find). It is apart from
// the control API because the commands need it whether an app runs or
// not (logs of a stopped app), and the API's clients elsewhere (a remote
// or deployed app) need none of it.
package state
