package kubetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// A test package shares one FullCluster across its tests (a start costs
// about 10 s, and one cluster at a time runs on a machine) like this:
//
//	func TestMain(m *testing.M) { os.Exit(kubetest.RunWithFullCluster(m)) }
//
//	func TestDeploy(t *testing.T) {
//		c := kubetest.FullClusterFor(t) // started on the first call
//		...
//	}
//
// The cluster starts on the first FullClusterFor, so a run whose tests
// do not ask for it (go test -short, -run of others) starts none, and
// stops when m.Run returns. Tests that share it must leave it as they
// found it: each works in a namespace of its own and deletes it.
//
// PILOTAGE_KUBE_CLUSTER=<dir> makes FullClusterFor use the running cluster
// whose cluster.env is in dir (started by hand with start-cluster.sh),
// and never stop it: quick to iterate on a test.
var shared struct {
	sync.Mutex
	inMain  bool         // RunWithFullCluster is running
	started bool         // a start was tried
	c       *FullCluster // its cluster, if it started
	err     error        // its error, if not
}

// RunWithFullCluster runs m, then stops the cluster FullClusterFor started
// for m's tests, if any; it returns m.Run's exit code, or 1 if that was 0
// and the stop failed.
func RunWithFullCluster(m *testing.M) int {
	shared.Lock()
	shared.inMain = true
	shared.Unlock()
	code := m.Run()
	shared.Lock()
	c := shared.c
	shared.c, shared.inMain = nil, false
	shared.Unlock()
	if c == nil {
		return code
	}
	if err := c.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "kubetest: %v\n", err)
		if code == 0 {
			code = 1
		}
	} else if code == 0 {
		// Logs are kept for a failed run only.
		if err := os.RemoveAll(c.Dir); err != nil {
			fmt.Fprintf(os.Stderr, "kubetest: %v\n", err)
		}
	}
	return code
}

// FullClusterFor returns the test package's shared FullCluster, starting
// it on the first call, if TestMain runs RunWithFullCluster; else it
// starts one for tb alone, stopped in tb.Cleanup. It skips the test in
// -short mode, and where the machine cannot run a cluster (one line
// naming the command that builds or installs what is missing), unless
// PILOTAGE_KUBE_REQUIRED=1, when that fails the test. A failed start
// fails the test, and every later one of the package.
func FullClusterFor(tb testing.TB) *FullCluster {
	tb.Helper()
	if testing.Short() {
		tb.Skip("kubetest: starts a whole Kubernetes cluster (not in -short)")
	}
	if dir := os.Getenv("PILOTAGE_KUBE_CLUSTER"); dir != "" {
		c, err := LoadFullCluster(dir)
		if err != nil {
			tb.Fatalf("kubetest: PILOTAGE_KUBE_CLUSTER: %v", err)
		}
		return c
	}
	SkipWithoutFullCluster(tb)
	ctx, cancel := startContext(tb)
	defer cancel()

	shared.Lock()
	defer shared.Unlock()
	if !shared.inMain {
		begin := time.Now()
		c, err := startFullCluster(ctx)
		if err != nil {
			tb.Fatalf("kubetest: %v", err)
		}
		tb.Logf("kubetest: cluster %s (Kubernetes %s) up in %s", c.Dir, c.ServerVersion, time.Since(begin).Round(time.Millisecond))
		tb.Cleanup(func() {
			if err := c.Stop(); err != nil {
				tb.Errorf("kubetest: %v", err)
			} else if !tb.Failed() {
				if err := os.RemoveAll(c.Dir); err != nil {
					tb.Errorf("kubetest: %v", err)
				}
			}
		})
		return c
	}
	if !shared.started {
		// Under the lock: parallel tests wait for this start.
		shared.started = true
		begin := time.Now()
		shared.c, shared.err = startFullCluster(ctx)
		if shared.err == nil {
			tb.Logf("kubetest: shared cluster %s (Kubernetes %s) up in %s", shared.c.Dir, shared.c.ServerVersion, time.Since(begin).Round(time.Millisecond))
		}
	}
	if shared.err != nil {
		tb.Fatalf("kubetest: the shared cluster did not start: %v", shared.err)
	}
	return shared.c
}

// SkipWithoutFullCluster skips tb if FullClusterMissing says this machine
// cannot run a cluster, or fails it if PILOTAGE_KUBE_REQUIRED=1 (and
// PILOTAGE_KUBE_E2E=1: without it, they always skip).
func SkipWithoutFullCluster(tb testing.TB) {
	tb.Helper()
	if err := FullClusterMissing(); err != nil {
		if os.Getenv("PILOTAGE_KUBE_REQUIRED") == "1" && os.Getenv(E2EEnv) == "1" {
			tb.Fatalf("kubetest: %v", err)
		}
		tb.Skipf("kubetest: %v", err)
	}
}

// startContext bounds a start by the test binary's deadline (-timeout),
// less a minute for the test itself to fail with a message.
func startContext(tb testing.TB) (context.Context, context.CancelFunc) {
	if d, ok := tb.(interface{ Deadline() (time.Time, bool) }); ok {
		if deadline, ok := d.Deadline(); ok {
			return context.WithDeadline(context.Background(), deadline.Add(-time.Minute))
		}
	}
	return context.WithTimeout(context.Background(), startTimeout)
}

// sharedRunning fails if this process runs the shared cluster: a second
// start would wait for the machine's lock, which that one holds until the
// process ends.
func sharedRunning() error {
	shared.Lock()
	defer shared.Unlock()
	if shared.c != nil {
		return errors.New("start cluster: this test binary already runs the shared cluster of RunWithFullCluster, and one cluster runs on a machine at a time: use FullClusterFor")
	}
	return nil
}
