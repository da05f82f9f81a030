package envelope

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
)

// healthHandler serves the kubelet's probes, and what the replica's
// telemetry keeps: its metrics for Prometheus (layout.MetricsPath), and
// its recent traces and metrics as JSON for "pilotage traces|trace|top
// --kube" (control.HandleTelemetry); and the health of its calls for
// "pilotage status --kube" (layout.CallHealthPath). Like the probes, they are open to
// whoever reaches the pod; the commands read them through the API
// server's pods/proxy, which checks the caller's permissions.
//
// /readyz: the runtime is ready and the pod is not terminating. The
// runtime starts only once every group it calls has a ready pod
// (awaitNeeds), so groups come up in dependency order; after that, a
// group that goes away (stopped, or failing) does not make its callers
// unready: they keep serving what does not need it, and their calls to
// it fail fast with ErrUnavailable, as under "pilotage run". /healthz: the runtime answers
// pings and does not report itself unhealthy (a starting runtime is
// healthy: the startup probe bounds how long it may take).
func (e *podEnvelope) healthHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if why := e.notReady(); why != "" {
			http.Error(w, why, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	control.HandleTelemetry(mux, e.tel.Source()) // layout.MetricsPath among them
	mux.HandleFunc("GET "+layout.CallHealthPath, func(w http.ResponseWriter, _ *http.Request) {
		e.mu.Lock()
		calls := e.calls
		e.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(calls) // a write error: the client went away
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		e.mu.Lock()
		unhealthy, last := e.unhealthy, e.lastPong
		e.mu.Unlock()
		switch {
		case unhealthy != "":
			http.Error(w, "unhealthy: "+unhealthy, http.StatusServiceUnavailable)
		case !last.IsZero() && time.Since(last) > pingDeadline:
			http.Error(w, fmt.Sprintf("the runtime has not answered pings for %s", time.Since(last).Round(time.Second)), http.StatusServiceUnavailable)
		default:
			fmt.Fprintln(w, "ok")
		}
	})
	return mux
}

// notReady says why the pod is not ready, or "".
func (e *podEnvelope) notReady() string {
	e.mu.Lock()
	ready, draining, unhealthy := e.ready, e.draining, e.unhealthy
	e.mu.Unlock()
	switch {
	case draining:
		return "terminating"
	case unhealthy != "":
		return "unhealthy: " + unhealthy
	case !ready:
		return "starting"
	}
	return ""
}
