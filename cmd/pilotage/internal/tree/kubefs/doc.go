// Package kubefs serves every Kubernetes object of every context of a
// kubeconfig as a tree.FS, mounted by the shell at /kube:
//
//	/kube/<ctx>                                 a context (namespaces, cluster)
//	/kube/<ctx>/namespaces/<ns>                 a namespace: its resource types
//	/kube/<ctx>/namespaces/<ns>/<res>/<name>    a namespaced object
//	/kube/<ctx>/namespaces/<ns>/pods/<p>/containers/<c>
//	/kube/<ctx>/cluster/<res>/<name>            a cluster-scoped object
//
// Resource types come from the API server's discovery at run time (custom
// resources included), each named by its plural, or plural.group when a
// core type has the same plural. Listings are served from watch caches
// (informers, metadata-only but for the few kinds whose ls -l columns need
// status), started on first use of a directory and kept until Close, so a
// Tab completion costs no request. Reads are fresh GETs: cat shows the
// truth, not the cache.
//
// Nothing connects before a path under a context is used: listing /kube
// only reads the kubeconfig. Exec in a pod or container goes through
// package podconn, as exec in a deployed app's replica does (package
// deployfs).
package kubefs
