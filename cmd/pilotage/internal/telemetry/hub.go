package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/pilotage/pilotage/internal/config"
	"github.com/pilotage/pilotage/internal/envelope"
)

// A Hub is the supervisor's telemetry: what the app's processes send goes
// to the trace store, the exporter (if a collector is configured) and the
// metrics.
type Hub struct {
	cfg             config.Telemetry
	app, deployment string
	Store           *Store
	Metrics         *Metrics
	exporter        *Exporter // nil without a collector, or until Start
	metricsL        net.Listener
	metricsS        *http.Server
}

// NewHub returns the telemetry cfg describes for one run of app, which
// keeps what it is sent; Start connects it to the outside.
func NewHub(cfg config.Telemetry, app, deployment string) *Hub {
	return &Hub{cfg: cfg, app: app, deployment: deployment, Store: NewStore(cfg.TraceLimit()), Metrics: NewMetrics()}
}

// Start starts the exporter and the metrics' TCP endpoint, if configured;
// logf reports the exporter's failures. Close stops them.
func (h *Hub) Start(logf func(string, ...any)) error {
	if h.cfg.OTLPEndpoint != "" {
		e, err := NewExporter(h.cfg.OTLPEndpoint, h.app, h.deployment, logf)
		if err != nil {
			return err
		}
		h.exporter = e
	}
	if h.cfg.MetricsAddress != "" {
		l, err := net.Listen("tcp", h.cfg.MetricsAddress)
		if err != nil {
			h.Close(context.Background())
			return fmt.Errorf("telemetry: metrics_address: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", h.Metrics.Handler())
		h.metricsL, h.metricsS = l, &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go h.metricsS.Serve(l)
	}
	return nil
}

// MetricsAddr is where the Prometheus metrics are served over TCP, or nil.
func (h *Hub) MetricsAddr() net.Addr {
	if h.metricsL == nil {
		return nil
	}
	return h.metricsL.Addr()
}

// Init is what the Init of each process says about telemetry.
func (h *Hub) Init() *envelope.Telemetry {
	return &envelope.Telemetry{SampleRatio: h.cfg.Ratio(), Metrics: h.cfg.MetricsOn()}
}

// Handle takes a Spans or Metrics message from replica, and reports
// whether m was one.
func (h *Hub) Handle(replica string, m envelope.Message) bool {
	switch m := m.(type) {
	case envelope.Spans:
		h.Store.Add(replica, m.Spans)
		if h.exporter != nil {
			h.exporter.Export(replica, m.Spans)
		}
	case envelope.Metrics:
		h.Metrics.Set(replica, m)
	default:
		return false
	}
	return true
}

// Close exports what is queued (within ctx) and stops serving metrics.
func (h *Hub) Close(ctx context.Context) error {
	var errs []error
	if h.exporter != nil {
		errs = append(errs, h.exporter.Close(ctx))
	}
	if h.metricsS != nil {
		errs = append(errs, h.metricsS.Close())
	}
	return errors.Join(errs...)
}
