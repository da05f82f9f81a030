package supervisor

import (
	"context"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/internal/envelope"
)

// startTelemetry starts what [telemetry] asks for beyond the trace store
// and the metrics (New made them): the OTLP exporter and the metrics' TCP
// endpoint. The returned func flushes the exporter and stops; call it once
// every process is gone.
func (s *Supervisor) startTelemetry() (func(), error) {
	if err := s.tel.Start(s.out.logf); err != nil {
		return nil, err
	}
	if a := s.tel.MetricsAddr(); a != nil {
		s.out.logf("metrics on http://%s/metrics", a)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.tel.Close(ctx); err != nil {
			s.out.logf("telemetry: %v", err)
		}
	}, nil
}

// handleTelemetry takes a Spans or Metrics message of p, without the
// supervisor's lock (they come often and concern nothing it guards), and
// reports whether m was one.
func (s *Supervisor) handleTelemetry(p *proc, m envelope.Message) bool {
	return s.tel.Handle(p.slot.source(), m)
}

var _ control.TelemetryBackend = (*Supervisor)(nil)
