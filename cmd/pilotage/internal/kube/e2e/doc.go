// Package e2e holds the end-to-end tests of "pilotage deploy" on a real
// Kubernetes cluster (kubetest.FullCluster: a real node running real
// pods, kube-proxy and CoreDNS): the pilotage command is built and run as
// a user runs it, and requests reach the app through its listener
// Services from inside the cluster's network. They skip, with a message,
// where the machine cannot run the cluster; scripts/test.sh runs them.
package e2e
