package config

import (
	"fmt"
	"net"
	"net/url"
)

// Telemetry holds the [telemetry] section: where traces go and what is
// recorded.
//
//	[telemetry]
//	otlp_endpoint = "http://127.0.0.1:4318"  # an OTLP/HTTP collector (traces)
//	sample_ratio = 0.01                      # of new traces (default 1: all)
//	metrics = true                           # per-method and per-process metrics (default)
//	metrics_address = "127.0.0.1:9464"       # also serve /metrics here (Prometheus)
//	max_traces = 1000                        # kept in memory for pilotage traces
//
// With no section at all, every trace is recorded, kept in memory for
// "pilotage traces" and "pilotage trace", and exported nowhere; metrics are
// served on the control socket at /metrics.
type Telemetry struct {
	// OTLPEndpoint is the base URL of an OTLP/HTTP collector: spans are
	// posted to <endpoint>/v1/traces as protobuf. Empty: not exported.
	OTLPEndpoint string `toml:"otlp_endpoint"`
	// SampleRatio is the fraction of new traces recorded, 0 to 1; nil
	// means the default, 1.
	SampleRatio *float64 `toml:"sample_ratio"`
	// Metrics, if set to false, turns off the metrics.
	Metrics *bool `toml:"metrics"`
	// MetricsAddress is a TCP address (host:port) where the supervisor
	// also serves the Prometheus metrics; empty: the control socket only.
	MetricsAddress string `toml:"metrics_address"`
	// MaxTraces bounds the traces the supervisor keeps (default 1000).
	MaxTraces int `toml:"max_traces"`
}

// DefaultMaxTraces is how many recent traces the supervisor keeps unless
// [telemetry] max_traces says otherwise.
const DefaultMaxTraces = 1000

// Ratio is the sample ratio in effect.
func (t Telemetry) Ratio() float64 {
	if t.SampleRatio == nil {
		return 1
	}
	return *t.SampleRatio
}

// DefaultKubeSampleRatio is the sample ratio of a version "pilotage
// deploy" runs whose configuration sets no sample_ratio.
const DefaultKubeSampleRatio = 0.1

// KubeRatio is the sample ratio in effect on Kubernetes: sample_ratio if
// set, else DefaultKubeSampleRatio (a pod's traffic is a production
// load: every pod keeps, and exports, one trace in ten).
func (t Telemetry) KubeRatio() float64 {
	if t.SampleRatio != nil {
		return *t.SampleRatio
	}
	return DefaultKubeSampleRatio
}

// MetricsOn reports whether metrics are recorded.
func (t Telemetry) MetricsOn() bool { return t.Metrics == nil || *t.Metrics }

// TraceLimit is the number of traces the supervisor keeps.
func (t Telemetry) TraceLimit() int {
	if t.MaxTraces <= 0 {
		return DefaultMaxTraces
	}
	return t.MaxTraces
}

// validateTelemetry reports every problem of [telemetry].
func (f *File) validateTelemetry() []error {
	var errs []error
	bad := func(key string, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: [telemetry] %s", f.Where("telemetry", key), fmt.Sprintf(format, args...)))
	}
	t := f.Telemetry
	if e := t.OTLPEndpoint; e != "" {
		if u, err := url.Parse(e); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("otlp_endpoint", "otlp_endpoint = %q: want an http:// or https:// URL of an OTLP/HTTP collector", e)
		}
	}
	if r := t.SampleRatio; r != nil && (*r < 0 || *r > 1) {
		bad("sample_ratio", "sample_ratio = %v: want a fraction from 0 to 1", *r)
	}
	if a := t.MetricsAddress; a != "" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			bad("metrics_address", "metrics_address = %q: want host:port", a)
		}
	}
	if f.meta.IsDefined("telemetry", "max_traces") && t.MaxTraces < 1 {
		bad("max_traces", "max_traces = %d: want at least 1", t.MaxTraces)
	}
	return errs
}
