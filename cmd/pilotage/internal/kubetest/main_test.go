package kubetest

import (
	"os"
	"testing"
)

// TestMain shares one full cluster among the tests that call
// FullClusterFor (TestFullClusterShared).
func TestMain(m *testing.M) {
	os.Exit(RunWithFullCluster(m))
}
