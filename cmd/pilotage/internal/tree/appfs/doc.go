// Package appfs serves /apps of the pilotage tree: every app running on
// this machine under "pilotage run", from the control API of its
// supervisor (package control). The shell mounts it at /apps in a
// tree.Union with package deployfs, which serves the apps deployed to
// Kubernetes in the same shape: deployfs describes them as control API
// resources, and NodeOf, ConfigContent and StoreBytes are the one
// rendering of resources and config values both use.
//
// # Layout
//
// /apps lists the apps whose supervisor runs and answers, one per state
// directory (package state): an app is named by its name where no other
// running app has it, else by its ID ("shop-1a2b3c4d"); both forms
// resolve. Below /apps/<app> the tree is the control API's (see package
// api), with what the shell needs added:
//
//	/apps/<app>                               App        logs
//	  components/<c>/                         Component  stop start restart, logs, call
//	    status                                           its ComponentStatus
//	    config                                           its [components."<name>"] section, as JSON
//	    methods/<m>                           Method     Info: its signature
//	    replicas/<r>/                         Replica    restart, logs, exec
//	      status, logs, env                              its ReplicaStatus, its log lines, its environment
//	  groups/<g>                              Group      stop start restart, logs
//	  units/<u>/                              Unit       stop start restart, logs
//	    status, logs, replicas/0/...
//	  listeners/<l>                           Listener
//	  startup                                 Startup    the critical chain
//	  locks/<name>                            Lock       release
//	  leaders/<election>                      Leader
//	  config/<key>                            ConfigKey  edit, rm (percent-encoded: config/limits%2Fapi)
//
// # Caching
//
// Stat and List are served from a watch cache: the first of an app
// starts one recursive watch of its resources, kept until Close and
// resumed from its last version when it breaks (listing again when the
// supervisor forgot it), so completion costs no request. The apps
// running are read again at most once a second. Read (cat) is always a
// fresh request, and so are the actions, logs, writes and exec.
//
// # Config keys
//
// A config key's content is its value: the JSON it holds, or its text if
// it is not JSON. Its version is the key's revision, and a write with a
// version is a compare-and-set. Writing a JSON string over a key holding
// text stores the string's text. A secret key (api.SecretKey: one of its
// '/'-separated elements starts with "secret") reads as
// "<redacted: N bytes>" unless revealed.
//
// # Exec
//
// Exec runs a command locally, in the environment and working directory
// the supervisor started the replica's process with (GET /v2/env): the
// replica is a process of this machine, so the command's terminal is the
// caller's own.
package appfs
