package kubetest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// scriptsDir returns the repository's scripts/k8s: found from this source
// file's path, or, in a binary built with -trimpath, from the working
// directory up (a test runs in its package's directory).
func scriptsDir() (string, error) {
	has := func(dir string) bool {
		_, err := os.Stat(filepath.Join(dir, "start-cluster.sh"))
		return err == nil
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		// file is <repo>/cmd/pilotage/internal/kubetest/scripts.go.
		dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "scripts", "k8s")
		if has(dir) {
			return filepath.Clean(dir), nil
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find scripts/k8s: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if has(filepath.Join(dir, "scripts", "k8s")) {
			return filepath.Join(dir, "scripts", "k8s"), nil
		}
		if filepath.Dir(dir) == dir {
			return "", errors.New("find scripts/k8s/start-cluster.sh: not above " + wd + " nor next to kubetest's source")
		}
	}
}
