package kubetest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Version is the Kubernetes release scripts/k8s/build-bins.sh builds when
// K8S_VERSION is not set; BinDir's default directory is named after it.
const Version = "1.37.2"

// binaries are the programs BinDir's directory must hold.
var binaries = []string{"etcd", "kube-apiserver", "kubectl"}

// BuildCommand is the command that builds the binaries, for messages.
const BuildCommand = "bash scripts/k8s/build-bins.sh"

// BinDir returns the directory holding the Kubernetes binaries:
// $PILOTAGE_KUBE_BIN, or else $HOME/.cache/pilotage/kube/v<Version>, where
// scripts/k8s/build-bins.sh puts them. It returns an error if a binary is
// missing there.
func BinDir() (string, error) {
	return binDirWith(binaries)
}

// binDirWith is BinDir for the programs bins.
func binDirWith(bins []string) (string, error) {
	dir := os.Getenv("PILOTAGE_KUBE_BIN")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("kube binaries: %w", err)
		}
		dir = filepath.Join(home, ".cache", "pilotage", "kube", "v"+Version)
	}
	// One line, as Start's skip message.
	var missing []string
	for _, b := range bins {
		fi, err := os.Stat(filepath.Join(dir, b))
		if err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("kube binaries missing in %s: %s", dir, strings.Join(missing, ", "))
	}
	return dir, nil
}
