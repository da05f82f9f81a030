package proclet

import (
	"context"
	"fmt"
	"time"

	"github.com/pilotage/pilotage/internal/envelope"
	"github.com/pilotage/pilotage/internal/host"
)

// healthSettings returns h with envelope.DefaultHealth's for zero fields.
func healthSettings(h envelope.Health) envelope.Health {
	if h.Interval <= 0 {
		h.Interval = envelope.DefaultHealth.Interval
	}
	if h.Timeout <= 0 {
		h.Timeout = envelope.DefaultHealth.Timeout
	}
	if h.FailureThreshold <= 0 {
		h.FailureThreshold = envelope.DefaultHealth.FailureThreshold
	}
	return h
}

// monitorHealth checks h every interval until ctx ends and, once
// FailureThreshold checks in a row have failed, reports Unhealthy after
// each further failure, until one passes: the deployer replaces this
// replica.
func monitorHealth(ctx context.Context, h *host.Host, conn *envelope.Conn, settings envelope.Health) {
	tick := time.NewTicker(time.Duration(settings.Interval))
	defer tick.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		err := checkHealth(ctx, h, time.Duration(settings.Timeout))
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			failures = 0
			continue
		}
		failures++
		if failures >= settings.FailureThreshold {
			// Best effort: if the socket is gone, Run is returning anyway.
			_ = conn.Send(envelope.Unhealthy{Error: err.Error(), Failures: failures})
		}
	}
}

// checkHealth runs the health checks with a time limit: a check that hangs
// counts as failing.
func checkHealth(ctx context.Context, h *host.Host, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := h.Health(ctx); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("health check did not finish within %s: %w", timeout, err)
		}
		return err
	}
	return nil
}
