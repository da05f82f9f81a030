package telemetry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/pilotage/pilotage/codegen"
	"github.com/pilotage/pilotage/internal/envelope"
	"github.com/pilotage/pilotage/internal/rpc"
)

// ScopeName is the instrumentation scope of the spans the runtime makes.
const ScopeName = "github.com/pilotage/pilotage"

// A Runtime records the telemetry of one process. A nil *Runtime records
// nothing, and its wrappers return what they were given.
type Runtime struct {
	tracer   trace.Tracer // nil: no tracing
	ratio    float64
	provider *sdktrace.TracerProvider
	metrics  *registry   // nil: no metrics
	user     *userMeters // nil: no metrics
	send     func(envelope.Message) error

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// Start begins recording what cfg asks for and reports it through send
// (which must be safe for concurrent use) every cfg.Interval, until
// Shutdown. A nil cfg records nothing and returns a nil *Runtime.
func Start(cfg *envelope.Telemetry, send func(envelope.Message) error) (*Runtime, error) {
	if cfg == nil {
		return nil, nil
	}
	if cfg.SampleRatio < 0 || cfg.SampleRatio > 1 {
		return nil, fmt.Errorf("telemetry: sample ratio %v is not between 0 and 1", cfg.SampleRatio)
	}
	interval := time.Duration(cfg.Interval)
	if interval <= 0 {
		interval = envelope.DefaultTelemetryInterval
	}
	r := &Runtime{ratio: cfg.SampleRatio, send: send, stop: make(chan struct{}), done: make(chan struct{})}
	r.provider = sdktrace.NewTracerProvider(
		sdktrace.WithSampler(sampler{sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))}),
		sdktrace.WithBatcher(&exporter{send: send}, sdktrace.WithBatchTimeout(interval), sdktrace.WithMaxQueueSize(8192)),
	)
	// Users' spans, through otel.Tracer, join the runtime's traces.
	otel.SetTracerProvider(r.provider)
	r.tracer = r.provider.Tracer(ScopeName)
	codegen.SetLocalTracer(r) // calls between colocated components

	if cfg.Metrics {
		r.metrics = newRegistry()
		// Users' instruments, through otel.Meter, are reported with the
		// runtime's own figures.
		r.user = newUserMeters()
		otel.SetMeterProvider(r.user.provider)
	}
	go r.report(interval)
	return r, nil
}

// report sends the metrics every interval, until Shutdown.
func (r *Runtime) report(interval time.Duration) {
	defer close(r.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			r.sendMetrics()
		}
	}
}

func (r *Runtime) sendMetrics() {
	if r.metrics != nil {
		m := r.metrics.snapshot()
		m.User = r.user.collect()
		_ = r.send(m) // best effort: the envelope's end is seen elsewhere
	}
}

// Shutdown sends what is left (spans that ended, the last metrics) and
// stops recording.
func (r *Runtime) Shutdown(ctx context.Context) error {
	if r == nil {
		return nil
	}
	var err error
	r.once.Do(func() {
		close(r.stop)
		<-r.done
		codegen.SetLocalTracer(nil)
		err = r.provider.Shutdown(ctx)
		otel.SetTracerProvider(noop.NewTracerProvider())
		r.sendMetrics()
		if r.user != nil {
			otel.SetMeterProvider(metricnoop.NewMeterProvider())
			err = errors.Join(err, r.user.shutdown(ctx))
		}
	})
	if err != nil {
		return fmt.Errorf("telemetry: shut down: %w", err)
	}
	return nil
}

// start returns the context a call's span starts under, and whether it
// gets one: when its caller's span is sampled; never when it is served, or
// made serving a listener's request, outside a sampled trace (the caller
// or the request decided); else it is a root, sampled at the ratio. An
// unsampled call carries no trace context and allocates nothing.
func (r *Runtime) start(ctx context.Context) (context.Context, bool) {
	ctx, inRequest := withListenerSpan(ctx)
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		return ctx, sc.IsSampled()
	}
	switch {
	case inRequest || rpc.Serving(ctx) || r.ratio <= 0:
		return ctx, false
	case r.ratio >= 1:
		return ctx, true
	case rand.Float64() >= r.ratio:
		return ctx, false
	}
	return context.WithValue(ctx, presampled{}, true), true
}

// presampled marks the context of a root span the runtime decided to
// sample (start), which the sampler then records whatever its ratio says:
// deciding before the span is made spares the unsampled calls the SDK's
// allocations.
type presampled struct{}

// sampler records presampled roots, and otherwise follows the parent's
// decision, or samples new traces (users' own roots) at the ratio.
type sampler struct{ sdktrace.Sampler }

func (s sampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	if p.ParentContext.Value(presampled{}) != nil {
		return sdktrace.SamplingResult{Decision: sdktrace.RecordAndSample, Tracestate: trace.SpanContextFromContext(p.ParentContext).TraceState()}
	}
	return s.Sampler.ShouldSample(p)
}
