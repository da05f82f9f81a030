package control

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
)

// A TelemetrySource keeps an app's recent traces and its metrics: the
// supervisor of "pilotage run" for its whole app, the envelope of a pod
// on Kubernetes for its replica.
type TelemetrySource interface {
	// Traces summarizes the recent traces q selects.
	Traces(q TraceQuery) []api.TraceSummary
	// Trace returns the kept spans of the trace with id (or a prefix of
	// it of at least 8 hex digits naming one trace).
	Trace(id string) (api.Trace, bool)
	// Metrics sums the figures of every component method.
	Metrics() api.Metrics
	// Prometheus serves the metrics in the Prometheus exposition format.
	Prometheus() http.Handler
}

// A TelemetryBackend is a Backend that is also a TelemetrySource.
type TelemetryBackend interface {
	Backend
	TelemetrySource
}

// A TraceQuery selects recent traces: GET /v2/traces/?slowest=true&errors=true&limit=N.
type TraceQuery struct {
	Slowest bool // longest first, not most recent first
	Errors  bool // only those with an error span
	Limit   int  // at most this many; 0: all
}

// The JSON routes of HandleTelemetry.
const (
	TracesRoute  = "/v2/traces/" // the recent traces; with a trace's ID appended, that trace
	MetricsRoute = "/v2/metrics/"
)

// HandleTelemetry adds to mux the routes that serve what src keeps:
// GET /v2/traces/ (TraceQuery's parameters), /v2/traces/<id>,
// /v2/metrics/ (api.Metrics) and /metrics (Prometheus' format). The
// supervisor's control socket serves them, and so does each pod's health
// port on Kubernetes, which "pilotage traces|trace|top --kube" read
// through the API server's pods/proxy.
func HandleTelemetry(mux *http.ServeMux, src TelemetrySource) {
	mux.HandleFunc("GET "+TracesRoute+"{id...}", func(w http.ResponseWriter, r *http.Request) {
		if id := r.PathValue("id"); id != "" {
			t, ok := src.Trace(id)
			if !ok {
				writeError(w, api.Errorf(api.CodeNotFound, "no trace %s is kept (only the most recent ones are: see pilotage traces)", id))
				return
			}
			writeJSON(w, http.StatusOK, t)
			return
		}
		var q TraceQuery
		var err error
		if q.Slowest, err = boolParam(r, "slowest"); err == nil {
			q.Errors, err = boolParam(r, "errors")
		}
		if v := r.URL.Query().Get("limit"); v != "" && err == nil {
			if q.Limit, err = strconv.Atoi(v); err != nil || q.Limit < 0 {
				err = api.Errorf(api.CodeBadRequest, "limit=%q: want a count", v)
			}
		}
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, src.Traces(q))
	})
	mux.HandleFunc("GET "+MetricsRoute, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, src.Metrics()) })
	mux.Handle("GET /metrics", src.Prometheus())
	mux.Handle("GET /metrics/", src.Prometheus())
}

// Traces lists the recent traces q selects.
func (c *Client) Traces(ctx context.Context, q TraceQuery) ([]api.TraceSummary, error) {
	v := url.Values{}
	if q.Slowest {
		v.Set("slowest", "true")
	}
	if q.Errors {
		v.Set("errors", "true")
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var out []api.TraceSummary
	if err := c.call(ctx, http.MethodGet, "/v2/traces", "/", v, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Trace returns the spans of one trace.
func (c *Client) Trace(ctx context.Context, id string) (*api.Trace, error) {
	var t api.Trace
	if err := c.call(ctx, http.MethodGet, "/v2/traces", "/"+id, nil, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// Metrics returns every component method's figures.
func (c *Client) Metrics(ctx context.Context) (*api.Metrics, error) {
	var m api.Metrics
	if err := c.call(ctx, http.MethodGet, "/v2/metrics", "/", nil, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// Prometheus returns the metrics in the Prometheus text format.
func (c *Client) Prometheus(ctx context.Context) ([]byte, error) {
	resp, err := c.open(ctx, http.MethodGet, "/metrics", "/", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, api.Errorf(api.CodeUnavailable, "control: /metrics: %w", err)
	}
	return b, nil
}
