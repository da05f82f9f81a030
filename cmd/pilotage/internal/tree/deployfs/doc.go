// Package deployfs serves the apps deployed to Kubernetes ("pilotage
// deploy") under /apps of the pilotage tree, in the same shape as the
// apps of this machine (package appfs): the shell mounts both at /apps
// with tree.Union, so that "ls /apps" lists every app, wherever it runs.
//
// # Layout
//
// The apps are those whose state ConfigMap (see package deploy) names a
// live version, in the namespace of the kubeconfig's current context
// (Options name others). Below /apps/<app>:
//
//	/apps/<app>                        App        logs; cat: its deploy status
//	  components/<c>                   Component  stop start restart, logs
//	    replicas/<pod>                 Replica    restart (deletes the pod), logs, exec
//	  groups/<g>                       Group      stop start restart, logs (a Deployment)
//	  listeners/<l>                    Listener   Info: its Service and port
//	  locks/<name>                     Lock       release
//	  leaders/<election>               Leader
//	  config/<key>                     ConfigKey  edit, rm
//
// Only the live version is shown. Its nodes are control API resources
// (package api) with the statuses the supervisor's have, rendered by
// appfs.NodeOf: one rendering, so that the shell and a web view show an
// app the same way wherever it runs. The app's INFO column says where:
// "kube <context>/<namespace>, version <v>".
//
// # Why a package of its own
//
// appfs is built on the supervisor's control API (a watch of its
// resources, its socket, its local exec); this package is built on the
// Kubernetes API and the app's coordination store. Each serves its
// source; what both show is shared: the resource kinds and statuses of
// package api, appfs's node rendering and config values (NodeOf,
// ConfigContent, StoreBytes), the deploy's operations (package deploy:
// Status, Act, Logs), exec and port-forwarding (package podconn), and the
// reading of the coordination store the supervisor's control API serves
// (package coordview, on package coord's own calls).
//
// # Connections
//
// Nothing connects before it is needed: listing /apps reads the state
// ConfigMaps (a List of /apps waits at most two seconds for the cluster:
// one that does not answer is left out of the union), a path below an
// app reads its Deployments and pods, at most once a second for Stat and
// List (Read is always fresh), and only a path below locks, leaders or
// config connects to the app's coordination store: the etcd StatefulSet
// the deploy runs, reached through a port-forward to one of its ready
// pods (its endpoints are cluster DNS names, which do not resolve
// outside the cluster), or the [coordination] endpoints the pods were
// given. Close ends the port-forwards.
package deployfs
