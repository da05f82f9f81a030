package envelope

import (
	"context"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/telemetry"
)

// flushTimeout bounds the export of the last spans when the pod stops.
const flushTimeout = 5 * time.Second

// startTelemetry returns the pod's telemetry: the runtime's spans go to
// the collector [telemetry] names, sampled by its ratio on Kubernetes,
// and its metrics are served on the health port (healthHandler), where
// the pod's prometheus.io annotations point.
func startTelemetry(s layout.Settings, logf func(string, ...any)) (*telemetry.Hub, error) {
	cfg := s.Telemetry
	ratio := cfg.KubeRatio()
	cfg.SampleRatio = &ratio
	cfg.MetricsAddress = "" // the health port serves them
	hub := telemetry.NewHub(cfg, s.App, s.Version)
	if err := hub.Start(logf); err != nil {
		return nil, err
	}
	return hub, nil
}

// stopTelemetry exports the spans still queued.
func (e *podEnvelope) stopTelemetry() {
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	if err := e.tel.Close(ctx); err != nil {
		e.logf("telemetry: %v", err)
	}
}
