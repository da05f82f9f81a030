//go:build !linux

package telemetry

import "github.com/pilotage/pilotage/internal/envelope"

// processMetrics is not implemented off Linux: the figures stay zero.
func processMetrics() envelope.ProcessMetrics { return envelope.ProcessMetrics{} }
