package kubefs

import "testing"

// Exec and logs of a real container need a node (kubelet + containerd +
// runc), which the test cluster of internal/kubetest does not have yet:
// /work/shared/k8s-testbed.md §4 says how one runs on these machines, and
// the deployer's test cluster adds it. Until then this test says so
// rather than pass; TestKubeFS checks the clear error of exec and logs on
// a pod without a node.
func TestExecInRealPod(t *testing.T) {
	t.Skip("the test cluster has no node (kubelet + containerd) yet: exec and logs of a running container are not tested end to end")
}
