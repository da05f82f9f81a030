package envelope

import (
	"encoding/json"
	"fmt"
	"time"
)

// ProtocolVersion is the version of this protocol. Init and Hello carry it,
// and a peer speaking another version is refused: bump it on any change
// the other side would misread.
//
// Version 2: Init.Coordination names the coordination store (endpoints
// and key prefix), which a runtime of version 1 would ignore.
// Version 3: Drain, which a runtime of version 2 would refuse.
// Version 4: CallHealth, Init.Telemetry, Spans and Metrics, which a
// deployer of version 3 would refuse.
const ProtocolVersion = 4

// EnvVar names the environment variable that tells the runtime it runs
// under a deployer: its value is the number of the inherited file
// descriptor of the socket to the deployer.
const EnvVar = "PILOTAGE_ENVELOPE"

// MaxLineSize bounds one message on the wire, newline excluded.
const MaxLineSize = 16 << 20

// A Message is one line on the socket: one of the types below.
type Message interface {
	// MessageType is the value of the message's "type" field.
	MessageType() string
}

// Deployer → runtime.

// Init is the deployer's first message: everything the runtime needs to
// know about itself.
type Init struct {
	Protocol int    `json:"protocol"` // set by Conn.Send
	App      string `json:"app"`
	// Deployment identifies the build and rollout this replica belongs to;
	// RPC connections between replicas of different deployments are
	// refused.
	Deployment string            `json:"deployment"`
	Group      string            `json:"group"`      // the colocation group's name
	Replica    string            `json:"replica"`    // the deployer's id of this replica: "cart.Cart/1", a pod name
	Components []string          `json:"components"` // full names of the hosted components
	Listeners  map[string]string `json:"listeners,omitempty"`
	// Listeners maps a listener's name to the address to bind; a listener
	// not named binds "127.0.0.1:0".

	// RPCListen is where to serve RPC: "unix:/path" or "tcp:host:port"
	// ("tcp::10000" for every interface).
	RPCListen string `json:"rpc_listen"`
	// RPCAdvertise is the address other replicas dial, in the same form
	// ("tcp:10.1.2.3:10000"); empty means the bound address of RPCListen,
	// which must then be dialable as is.
	RPCAdvertise string        `json:"rpc_advertise,omitempty"`
	ConfigPath   string        `json:"config_path,omitempty"` // pilotage.toml, for component config
	Health       Health        `json:"health"`
	Coordination *Coordination `json:"coordination,omitempty"`
	// Telemetry turns on traces and metrics, which the runtime sends in
	// Spans and Metrics; without it, the runtime records neither.
	Telemetry *Telemetry `json:"telemetry,omitempty"`
}

// Telemetry says what the runtime records and how often it reports it.
type Telemetry struct {
	// SampleRatio is the fraction of new traces recorded, from 0 (none:
	// a call then costs nothing for tracing) to 1 (all). A call made
	// within a trace follows its caller's decision.
	SampleRatio float64 `json:"sample_ratio"`
	// Metrics turns on the per-method and per-process metrics.
	Metrics bool `json:"metrics"`
	// Interval is how often the runtime sends finished spans and its
	// metrics (DefaultTelemetryInterval if zero).
	Interval Duration `json:"interval,omitempty"`
}

// DefaultTelemetryInterval is how often a runtime reports telemetry unless
// Telemetry.Interval says otherwise.
const DefaultTelemetryInterval = time.Second

// Health says how the runtime checks its components' health.
type Health struct {
	Interval Duration `json:"interval"` // between checks
	Timeout  Duration `json:"timeout"`  // a check running longer fails
	// FailureThreshold is how many checks in a row must fail before the
	// runtime reports Unhealthy.
	FailureThreshold int `json:"failure_threshold"`
}

// DefaultHealth is what a runtime uses for a Health field left zero, and
// what the supervisor of "pilotage run" sends: a check a second, failing
// past five seconds, Unhealthy at the first failure.
var DefaultHealth = Health{Interval: Duration(time.Second), Timeout: Duration(5 * time.Second), FailureThreshold: 1}

// Coordination names the app's coordination store: an etcd cluster (the
// one "pilotage run" embeds, or an external one) and where in its keyspace
// the app's keys live. Without it, a runtime's coordination store is an
// in-memory one of its own process.
type Coordination struct {
	// Endpoints are etcd client URLs: "unix:///path/etcd.sock",
	// "http://host:2379", "https://host:2379". At least one.
	Endpoints []string `json:"endpoints"`
	// Prefix is put before every key the app writes ("/pilotage/shop/"),
	// so that apps can share a cluster. The deployer picks it; it is
	// required, and the runtime never invents one.
	Prefix string `json:"prefix"`
	// TTL of the runtime's session leases; zero means the coordination
	// library's default. A holder that stops renewing its lease loses its
	// locks and leaderships within TTL.
	TTL Duration `json:"ttl,omitempty"`
}

// Routes is the full routing table: every component's ready replicas.
type Routes struct {
	Routes  map[string][]string `json:"routes"`            // component full name -> RPC addresses
	Outages map[string]Outage   `json:"outages,omitempty"` // why a component without an address has none
}

// An Outage says why a component has no ready replica.
type Outage struct {
	Reason string `json:"reason"` // "stopped", "restarting: killed by signal killed", ...
	// Transient means replicas are starting or restarting: callers wait
	// for one (within their deadline, and a bound) rather than fail at once.
	Transient bool `json:"transient,omitempty"`
}

// Ping asks for a Pong with the same Seq.
type Ping struct {
	Seq uint64 `json:"seq"`
}

// Stop asks the runtime to shut down and exit.
type Stop struct{}

// Drain says the replica is leaving: its callers are being sent elsewhere
// and a Stop follows. The runtime keeps serving, and hands over what only
// one replica may do: its coordination store resigns its leaderships and
// campaigns no more. A deployer may send it before Stop, or not at all.
type Drain struct{}

// Runtime → deployer.

// Hello is the runtime's first message, once its RPC server listens.
type Hello struct {
	Protocol   int    `json:"protocol"` // set by Conn.Send
	PID        int    `json:"pid"`
	RPCAddress string `json:"rpc_address"`     // advertised: what goes into Routes
	Build      string `json:"build,omitempty"` // the binary's VCS revision or module version; informational
}

// Listening reports a listener's bound address.
type Listening struct {
	Listener string `json:"listener"`
	Address  string `json:"address"` // host:port
}

// ComponentStarting reports that a component's start began: its
// dependencies are ready.
type ComponentStarting struct {
	Component string    `json:"component"`
	Time      time.Time `json:"time,omitzero"`
}

// ComponentReady reports that a component's Init returned nil.
type ComponentReady struct {
	Component string    `json:"component"`
	Time      time.Time `json:"time,omitzero"`
}

// Ready reports that every hosted component is ready and healthy.
type Ready struct{}

// Unhealthy reports that the last Failures health checks in a row failed,
// Failures having reached Health.FailureThreshold.
type Unhealthy struct {
	Error    string `json:"error"`
	Failures int    `json:"failures"`
}

// AppDone reports that the app function returned nil: the process exits
// 0 next and should not be restarted.
type AppDone struct{}

// Failed carries the error the runtime is about to exit with. Its shape
// never changes, so a runtime can send it to refuse an Init of another
// protocol version.
type Failed struct {
	Error string `json:"error"`
}

// CallHealth reports what this runtime's callers learnt of the replicas
// they call: for each component, the replicas ejected from their pool for
// failing or timing out, and whether all of them are (its circuit is
// open: calls fail at once). It is sent whenever that changes, at most
// every 100ms, and holds the whole state: a component absent is healthy.
type CallHealth struct {
	Components map[string]ComponentHealth `json:"components"` // full name -> its health, if not all well
}

// ComponentHealth is one callee's health, as its callers in one runtime
// see it.
type ComponentHealth struct {
	Ejected []string `json:"ejected"`        // RPC addresses, as in Routes
	Open    bool     `json:"open,omitempty"` // every replica is ejected
}

// Pong answers a Ping.
type Pong struct {
	Seq uint64 `json:"seq"`
}

// Spans carries spans that ended, in the order they ended.
type Spans struct {
	Spans []Span `json:"spans"`
}

// A Span is one finished OpenTelemetry span, as the runtime recorded it.
// Ids are lowercase hex (32 digits for a trace, 16 for a span); the
// deployer adds what it knows of the process (app, replica) as resource
// attributes when it exports the span.
type Span struct {
	TraceID      string    `json:"trace_id"`
	SpanID       string    `json:"span_id"`
	ParentSpanID string    `json:"parent_span_id,omitempty"`
	Name         string    `json:"name"`
	Kind         string    `json:"kind"`            // "internal", "server", "client", "producer", "consumer"
	Scope        string    `json:"scope,omitempty"` // the instrumentation scope: the tracer's name
	Start        time.Time `json:"start"`
	End          time.Time `json:"end"`
	Status       string    `json:"status,omitempty"` // "", "ok" or "error"
	Message      string    `json:"message,omitempty"`
	Attrs        []Attr    `json:"attrs,omitempty"`
	Events       []Event   `json:"events,omitempty"`
}

// An Attr is a span's or an event's attribute. Value is the value as
// strconv formats it for Type "bool", "int64" and "float64", as is for
// "string"; a slice is written as its JSON, with Type "string".
type Attr struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value string `json:"value"`
}

// An Event is a timed annotation of a span (an exception, a message).
type Event struct {
	Name  string    `json:"name"`
	Time  time.Time `json:"time"`
	Attrs []Attr    `json:"attrs,omitempty"`
}

// Metrics carries the runtime's figures since it started: counters are
// cumulative, so a lost message loses nothing but freshness.
type Metrics struct {
	Methods []MethodMetrics `json:"methods,omitempty"`
	Process ProcessMetrics  `json:"process"`
	// User are the instruments the app's components made with the
	// OpenTelemetry metrics API (otel.Meter), as of this message. A
	// deployer older than them ignores the field.
	User []UserMetric `json:"user,omitempty"`
}

// A UserMetric is one instrument of the app's own, with a point per set
// of attributes it was recorded with; values are cumulative.
type UserMetric struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Unit        string `json:"unit,omitempty"`
	// Kind is "counter" (a sum that only grows), "gauge" (a gauge, or a
	// sum that may go down) or "histogram".
	Kind   string      `json:"kind"`
	Points []UserPoint `json:"points"`
}

// A UserPoint is one value of a UserMetric: Value for a counter or a
// gauge; Count, Sum and Buckets (the values at most each of Bounds, then
// those above them all) for a histogram.
type UserPoint struct {
	Attrs   []Attr    `json:"attrs,omitempty"`
	Value   float64   `json:"value,omitempty"`
	Count   uint64    `json:"count,omitempty"`
	Sum     float64   `json:"sum,omitempty"`
	Bounds  []float64 `json:"bounds,omitempty"`
	Buckets []uint64  `json:"buckets,omitempty"`
}

// MethodMetrics are the figures of one component method on one side of
// its calls: "server" (calls this process served) or "client" (calls it
// made; their errors are the transport's, as an application error travels
// in the results).
type MethodMetrics struct {
	Component string `json:"component"`
	Method    string `json:"method"`
	Side      string `json:"side"`
	Calls     uint64 `json:"calls"`
	// Errors counts failed calls by kind: "application" (the method
	// returned an error), "unavailable", "interrupted", "deadline",
	// "canceled", "panic", "too_large", "other".
	Errors       map[string]uint64 `json:"errors,omitempty"`
	InFlight     int64             `json:"in_flight"`
	RequestBytes uint64            `json:"request_bytes"`
	ReplyBytes   uint64            `json:"reply_bytes"`
	// Latency counts calls by duration: Latency[i] those of at most
	// LatencyBuckets[i] seconds (and more than the bucket before), the last
	// one those above every bound. LatencySum is their total in seconds.
	Latency    []uint64 `json:"latency"`
	LatencySum float64  `json:"latency_sum"`
}

// LatencyBuckets are the upper bounds, in seconds, of the latency
// histogram of MethodMetrics.
var LatencyBuckets = []float64{50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1, 2.5, 5, 10}

// ProcessMetrics are figures of the runtime's process.
type ProcessMetrics struct {
	CPUSeconds float64 `json:"cpu_seconds"` // user and system time since it started
	RSSBytes   uint64  `json:"rss_bytes"`   // resident memory now
	Goroutines int     `json:"goroutines"`
}

// Message types.
const (
	TypeInit              = "init"
	TypeRoutes            = "routes"
	TypePing              = "ping"
	TypeStop              = "stop"
	TypeDrain             = "drain"
	TypeHello             = "hello"
	TypeListening         = "listening"
	TypeComponentStarting = "component_starting"
	TypeComponentReady    = "component_ready"
	TypeReady             = "ready"
	TypeUnhealthy         = "unhealthy"
	TypeAppDone           = "app_done"
	TypeFailed            = "failed"
	TypePong              = "pong"
	TypeCallHealth        = "call_health"
	TypeSpans             = "spans"
	TypeMetrics           = "metrics"
)

func (Init) MessageType() string              { return TypeInit }
func (Routes) MessageType() string            { return TypeRoutes }
func (Ping) MessageType() string              { return TypePing }
func (Stop) MessageType() string              { return TypeStop }
func (Drain) MessageType() string             { return TypeDrain }
func (Hello) MessageType() string             { return TypeHello }
func (Listening) MessageType() string         { return TypeListening }
func (ComponentStarting) MessageType() string { return TypeComponentStarting }
func (ComponentReady) MessageType() string    { return TypeComponentReady }
func (Ready) MessageType() string             { return TypeReady }
func (Unhealthy) MessageType() string         { return TypeUnhealthy }
func (AppDone) MessageType() string           { return TypeAppDone }
func (Failed) MessageType() string            { return TypeFailed }
func (Pong) MessageType() string              { return TypePong }
func (CallHealth) MessageType() string        { return TypeCallHealth }
func (Spans) MessageType() string             { return TypeSpans }
func (Metrics) MessageType() string           { return TypeMetrics }

// decoders maps each message type a side receives to its decoder.
var decoders = map[Side]map[string]func([]byte) (Message, error){
	Runtime: {
		TypeInit:   decode[Init],
		TypeRoutes: decode[Routes],
		TypePing:   decode[Ping],
		TypeStop:   decode[Stop],
		TypeDrain:  decode[Drain],
	},
	Deployer: {
		TypeHello:             decode[Hello],
		TypeListening:         decode[Listening],
		TypeComponentStarting: decode[ComponentStarting],
		TypeComponentReady:    decode[ComponentReady],
		TypeReady:             decode[Ready],
		TypeUnhealthy:         decode[Unhealthy],
		TypeAppDone:           decode[AppDone],
		TypeFailed:            decode[Failed],
		TypePong:              decode[Pong],
		TypeCallHealth:        decode[CallHealth],
		TypeSpans:             decode[Spans],
		TypeMetrics:           decode[Metrics],
	},
}

func decode[M Message](line []byte) (Message, error) {
	var m M
	if err := json.Unmarshal(line, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// A Duration is a time.Duration written as a string ("500ms") on the wire.
type Duration time.Duration

// MarshalJSON writes d as "1.5s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string ("1.5s").
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(v)
	return nil
}
