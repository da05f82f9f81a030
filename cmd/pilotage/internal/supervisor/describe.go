package supervisor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/pilotage/pilotage/internal/proclet"
)

// describeTimeout bounds the run of the binary with PILOTAGE_DESCRIBE=1.
const describeTimeout = 30 * time.Second

// Describe runs binary with PILOTAGE_DESCRIBE=1 in dir and decodes the
// Description it prints. The binary also checks the configuration file at
// configPath (if not empty) against its components' config types, which
// only it knows, as the proclets will read it; Describe fails with every
// problem found, one per line, so that nothing starts with a section that
// does not fit.
func Describe(ctx context.Context, binary, dir, configPath string) (*proclet.Description, error) {
	ctx, cancel := context.WithTimeout(ctx, describeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary)
	cmd.Dir = dir
	// The file checked is the one the supervisor chose, not one named by
	// the caller's environment.
	cmd.Env = withoutVar(os.Environ(), proclet.ConfigEnvVar)
	cmd.Env = append(cmd.Env, proclet.DescribeEnvVar+"=1")
	if configPath != "" {
		cmd.Env = append(cmd.Env, proclet.ConfigEnvVar+"="+configPath)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
			msg = ":\n" + msg
		}
		return nil, fmt.Errorf("describe %s: %w%s", binary, err, msg)
	}
	var d proclet.Description
	if err := json.Unmarshal(stdout.Bytes(), &d); err != nil {
		return nil, fmt.Errorf("describe %s: the binary printed no component description (does its main call pilotage.Run?): %w", binary, err)
	}
	if len(d.ConfigErrors) > 0 {
		return nil, errors.New(strings.Join(d.ConfigErrors, "\n"))
	}
	return &d, nil
}

// withoutVar returns env without the settings of the variable name.
func withoutVar(env []string, name string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}
