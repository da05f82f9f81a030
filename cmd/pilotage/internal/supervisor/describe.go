package supervisor

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/pilotage/pilotage/internal/config"
	"github.com/pilotage/pilotage/internal/graph"
)

// A binary is what the supervisor learns from an application binary
// without running it.
type binary struct {
	graph *graph.Graph // the component graph "pilotage generate" embedded; nil unless read
	hash  string       // hex SHA-256 of its bytes
}

// readBinary reads the binary at path: its hash and, if describe, the
// component graph embedded in it (which works whatever platform it was
// built for). The file is mapped rather than read, and hashed while the
// graph is searched: a binary is tens of megabytes, and this is on the
// path of every start.
func readBinary(path string, describe bool) (binary, error) {
	f, err := os.Open(path)
	if err != nil {
		return binary{}, fmt.Errorf("read the application binary: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return binary{}, fmt.Errorf("read the application binary: %w", err)
	}
	if fi.Size() == 0 || fi.Size() != int64(int(fi.Size())) {
		return binary{}, fmt.Errorf("read the application binary %s: size %d", path, fi.Size())
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_PRIVATE)
	if err != nil {
		return binary{}, fmt.Errorf("read the application binary: map %s: %w", path, err)
	}
	defer syscall.Munmap(data)
	hashed := make(chan string, 1)
	go func() {
		sum := sha256.Sum256(data)
		hashed <- hex.EncodeToString(sum[:])
	}()
	var b binary
	var parseErr error
	if describe {
		b.graph, parseErr = graph.Parse(data)
	}
	b.hash = <-hashed // before Munmap
	if parseErr != nil {
		return binary{}, fmt.Errorf("describe %s: %w", path, parseErr)
	}
	return b, nil
}

// deploymentID names the build a run deploys: "<app>-<the first 12 hex
// digits of the binary's SHA-256>". Every RPC connection between its
// processes carries it, so a process of another build is never called.
func deploymentID(app, binaryHash string) string { return app + "-" + binaryHash[:12] }

// CheckConfig checks cfg against the components of g, as each proclet will
// (host.CheckConfig, which remains the final word): every [components.X]
// section names one component and fits its config schema (no unknown
// keys, no value of the wrong kind), and every [listeners.X] names a
// declared listener. It reports every problem.
func CheckConfig(g *graph.Graph, cfg *config.File) error {
	configs := map[string]any{}
	var listeners []string
	for _, c := range g.Components {
		configs[c.Name] = nil
		if c.Config != nil {
			configs[c.Name] = newConfigValue(c.Config)
		}
		listeners = append(listeners, c.Listeners...)
	}
	return errors.Join(cfg.CheckComponentConfigs(configs), cfg.CheckListeners(listeners))
}
