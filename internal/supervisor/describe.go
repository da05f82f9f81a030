package supervisor

import (
	"bytes"
	"context"
	"encoding/json"
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
// Description it prints.
func Describe(ctx context.Context, binary, dir string) (*proclet.Description, error) {
	ctx, cancel := context.WithTimeout(ctx, describeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), proclet.DescribeEnvVar+"=1")
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
	return &d, nil
}
