// Package telemetry is the supervisor's side of traces and metrics: it
// takes the spans and counters the app's processes send through the
// envelope protocol, keeps the recent traces in memory (bounded) for
// "pilotage traces" and "pilotage trace", exports spans over OTLP/HTTP to
// the collector [telemetry] otlp_endpoint names, and serves the metrics in
// the Prometheus exposition format. The exporters live here, in the tool's
// module, never in the app's.
package telemetry
