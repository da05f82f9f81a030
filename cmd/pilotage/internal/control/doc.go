// Package control serves and dials the control API of a running
// "pilotage run" supervisor: the tree of resources package api describes,
// as HTTP and JSON over the Unix socket control.sock (SocketName) in the
// application's state directory.
//
// The supervisor serves it (Listen, with a Backend: a snapshot of its
// resources, a notification when they change, actions and logs); the
// server versions the snapshots, keeps a bounded history of their changes
// for watches, and checks paths and actions before the backend acts. The
// pilotage commands are clients (Dial): Get, List, Watch, Act and Logs
// speak the API; Status, Stop, Start, Restart and Analyze build on them
// what the commands print, in the shapes they always printed (Status is
// what "pilotage status -json" prints).
//
// The layout of state directories, their lock and the app a command means
// are package state's.
package control
