// Package telemetry is the runtime's side of traces and metrics: it makes
// a span of every component call (client and server side) and of every
// HTTP request on a component's listener, counts every call per method,
// and hands what it recorded to the deployer through the envelope protocol
// (Spans and Metrics messages), which exports and serves it. The process
// runs the OpenTelemetry SDK's tracer provider (installed as the global
// one, so that spans users make with the standard API join the same
// traces) but no exporter: OTLP, protobuf and gRPC stay out of the app.
//
// A trace is sampled at its root (a request on a listener, a call made
// outside any call or request) and followed by every call in it; an
// unsampled call makes no span, carries no trace context and allocates
// nothing for tracing, at any ratio. Metrics cost a few atomic additions.
package telemetry
