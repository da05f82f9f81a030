// Package api defines the wire format of pilotage's control API: the tree
// of resources a supervisor serves, their statuses, the events of a watch,
// the log lines it streams and the error codes of its answers. It holds
// data types and path rules only, so that every client (the pilotage
// commands, the shell, a web view) shares them; package control serves
// and dials it.
//
// # Resources
//
// Every node of the tree is a Resource: a kind, a path, a name (the
// path's last element), a resource version and a status whose type
// depends on the kind. Paths are stable for as long as the app runs:
//
//	/                                         Collection
//	/apps                                     Collection
//	/apps/<app>                               App
//	/apps/<app>/components                    Collection
//	/apps/<app>/components/<c>                Component  stop start restart
//	/apps/<app>/components/<c>/replicas       Collection
//	/apps/<app>/components/<c>/replicas/<r>   Replica    restart
//	/apps/<app>/groups                        Collection
//	/apps/<app>/groups/<g>                    Group      stop start restart
//	/apps/<app>/units                         Collection
//	/apps/<app>/units/<u>                     Unit       stop start restart
//	/apps/<app>/units/<u>/replicas/0          Replica    restart
//	/apps/<app>/listeners                     Collection
//	/apps/<app>/listeners/<l>                 Listener
//	/apps/<app>/startup                       Startup
//	/apps/<app>/locks                         Collection
//	/apps/<app>/locks/<name>                  Lock       release
//	/apps/<app>/leaders                       Collection
//	/apps/<app>/leaders/<election>            Leader
//	/apps/<app>/config                        Collection
//	/apps/<app>/config/<key>                  ConfigKey
//
// A component is named by its short name ("cart.Cart"), or by its full
// name when two components share the short one; a group by its name (the
// short names of its components joined by '+', or their full names where
// those collide); a replica by its index.
// The replicas of a component are those of its group: a colocated
// group's processes host every component of it, so one process appears
// under each. Acting on a component acts on its whole group. Path
// elements are percent-encoded where they hold '/', '%' or other bytes a
// URL path segment may not (Join, Split). "/" and "/apps" always exist;
// every other collection exists while it holds something, but those of
// an app (components, groups, units, listeners), which exist while the
// app does, and those of its coordination store (locks, leaders,
// config), which exist while the app does too. Locks, leaders and
// config keys are those of the app's coordination store (package
// coord): a lock held or waited for, an election with candidates, a key
// of the key/value and config store (one path element, percent-encoded:
// config/limits%2Fapi is the key "limits/api"), as the supervisor last
// read them; it reads them again after every change of the store, so
// they follow it by some tens of milliseconds. A config key is secret
// when one of its '/'-separated elements starts with "secret", in any
// case ("secrets/db", "payment/secret_key"; see SecretKey): the API
// serves its value like any other, and clients show it only when asked
// to reveal it. A lock's expiry is, like
// a listener's counters, current in a get or list, but not an event.
// Later kinds (traces) are new collections under /apps/<app>.
//
// # Versions
//
// Every change of a resource (added, status or actions modified, deleted)
// takes the next resource version: versions only grow, and they start,
// each time a supervisor starts serving, above every version it served
// before (they begin at that time in microseconds), so a version from
// another run is never taken for one of this run. A List carries the
// version it is consistent with; a watch from that version delivers
// every later change (changes the supervisor saw in one look coalesce),
// until the supervisor has forgotten it: it keeps a bounded history, and
// then the watch fails with CodeExpired (410) and the client lists again.
// A watch that falls behind by more than the server buffers for it ends
// with an ERROR event, CodeExpired too. A watch resumes correctly from
// the version of any event it received: the ADDED events that begin a
// watch without a version carry the version of that look, like a List. A listener's counters are current
// in a get or list, but their change alone is not an event.
//
// # HTTP
//
// The API is HTTP/1.1 with JSON bodies, on the Unix socket control.sock
// of the app's state directory. <path> is a resource path as above:
//
//	GET  /v2/get/<path>                       the Resource
//	GET  /v2/list/<path>[?recursive=true]     a List of its children (or of
//	                                          every resource below it)
//	GET  /v2/watch/<path>[?resource_version=N][&recursive=true]
//	                                          Events, one JSON object per
//	                                          line, of the resource and its
//	                                          children (or everything below
//	                                          it): those after N, or,
//	                                          without N, ADDED for what is
//	                                          there now, at the current
//	                                          version, and a BOOKMARK of
//	                                          it; then
//	                                          every change, and a BOOKMARK
//	                                          after a quiet while
//	POST /v2/act/<path>?action=A[&wait=30s]   performs A (one of the
//	                                          resource's actions) and
//	                                          answers an ActionResult once
//	                                          it settled or wait passed
//	GET    /v2/value/<path>                   the ConfigValue of a ConfigKey:
//	                                          the key with its value
//	PUT    /v2/value/<path>                   sets the key of a ConfigKey's
//	                                          path (existing or not) to the
//	                                          request's body, and answers
//	                                          the ConfigValue written; a
//	                                          value that does not decode
//	                                          into the key's registered
//	                                          type is refused (bad_request,
//	                                          with the store's message)
//	PUT    /v2/value/<path>?revision=N        the same, if the key's
//	                                          revision is still N (0: the
//	                                          key must not exist), else
//	                                          conflict: a compare-and-set
//	DELETE /v2/value/<path>                   deletes the key (absent: not
//	                                          an error; Deleted says)
//	GET    /v2/env/<path>                     the ReplicaEnv of a Replica:
//	                                          the environment and working
//	                                          directory its current process
//	                                          was started with (conflict if
//	                                          it has none)
//	POST /v2/call/<path>?method=M[&timeout=D]
//	                                          calls method M of the
//	                                          Component at path (or of its
//	                                          replica at path) with the
//	                                          request's body as arguments (a
//	                                          JSON object by parameter name,
//	                                          or an array in order; empty for
//	                                          none), on a ready replica,
//	                                          through the app's transport,
//	                                          within D (default 30s, at most
//	                                          10m), and answers a CallResult;
//	                                          a method that returns an error
//	                                          is a CallResult with Error set.
//	                                          An unknown method or arguments
//	                                          that do not decode are
//	                                          bad_request, no ready replica
//	                                          unavailable
//	GET  /v2/logs/<path>[?tail=N][&since=T][&follow=true][&source=S...]
//	                                          LogLines, one per line, of
//	                                          the processes under path (a
//	                                          component, group, unit or
//	                                          replica; the app for all,
//	                                          then narrowed by source as
//	                                          "pilotage logs" selects),
//	                                          T in RFC 3339; following, a
//	                                          CaughtUp line once the stored
//	                                          lines were sent
//
// A failed request is answered with the HTTP status of its Code and an
// ErrorBody; a stream that fails midway ends with an ERROR event, or a
// LogLine with Error set. Unknown routes answer not_found: the v1 routes
// of earlier releases are gone.
package api
