// Package kubetest runs a real Kubernetes control plane, etcd and
// kube-apiserver, for tests: each call of Start gets its own cluster on
// loopback, with its state in the test's temporary directory, stopped when
// the test ends.
//
// The binaries are not in the repository: scripts/k8s/build-bins.sh builds
// them from the Go module proxy into a cache directory (see BinDir), and
// scripts/test.sh runs it before the tests. Without them Start skips the
// test, unless PILOTAGE_KUBE_REQUIRED=1.
//
// The cluster authenticates two users by static bearer tokens: "admin", in
// the group system:masters, and "viewer", in no group, whom RBAC allows
// only to get, list and watch pods in the namespace "default". The
// kubeconfig written by Start has one context for each (Admin, Viewer).
package kubetest
