package e2e

import (
	"os"
	"testing"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kubetest"
)

// TestMain shares one cluster among the package's tests; each works in a
// namespace of its own.
func TestMain(m *testing.M) {
	code := kubetest.RunWithFullCluster(m)
	removeBuilt()
	os.Exit(code)
}
