// Package layout is how pilotage lays an application out on Kubernetes:
// the names and labels of its objects, the ports and paths inside its
// pods, and the settings "pilotage deploy" hands each pod's envelope. It
// is the one contract between the deploy (which writes objects) and the
// envelope (which runs in them), so both read the same constants.
package layout

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/pilotage/pilotage/internal/config"
	"github.com/pilotage/pilotage/internal/envelope"
)

// Labels on every object pilotage deploy makes. An app's objects are
// found by LabelApp (what "pilotage delete" removes, and nothing else);
// a version's by LabelApp and LabelVersion.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "pilotage"
	LabelApp       = "pilotage.dev/app"
	LabelVersion   = "pilotage.dev/version"
	LabelGroup     = "pilotage.dev/group"
	// LabelRole tells the kind of a Service: RoleGroup (headless, how
	// replicas of one version find each other), RoleListener (what
	// clients call; it selects the live version's pods) or RoleStore
	// (the coordination store's, store.go).
	LabelRole    = "pilotage.dev/role"
	RoleGroup    = "group"
	RoleListener = "listener"
	// AnnotationLive on a listener Service names the version it routes to.
	AnnotationLive = "pilotage.dev/live-version"
	// On a group's Deployment: the replicas it runs with while its
	// version serves (a retired version is kept at 0 for a rollback,
	// a stopped group too), the full names of its components,
	// comma-separated, and the listeners it serves with their ports
	// ("shop=8080,admin=8081"): what rollback, stop and start need,
	// read back from the cluster.
	AnnotationReplicas   = "pilotage.dev/replicas"
	AnnotationComponents = "pilotage.dev/components"
	AnnotationListeners  = "pilotage.dev/listeners"
	// LabelStopped "true" on a group's headless Service (which its
	// EndpointSlices copy) says "pilotage stop" stopped the group: its
	// callers fail fast instead of waiting for a replica. A deploy
	// applies it "false", so that applying a version again starts it.
	LabelStopped = "pilotage.dev/stopped"
	// AnnotationRestartedAt on a pod template makes a restart roll its
	// pods, as "kubectl rollout restart" does.
	AnnotationRestartedAt = "pilotage.dev/restarted-at"
	// FieldManager is the server-side apply field manager of everything
	// pilotage writes.
	FieldManager = "pilotage"
)

// RPCAddress is the address, as routes name it, of the runtime's RPC
// server in the pod at ip.
func RPCAddress(ip string) string { return fmt.Sprintf("tcp:%s:%d", ip, RPCPort) }

// Ports and paths inside a pod.
const (
	RPCPort    = 10000 // the runtime's RPC server, dialled by other replicas
	HealthPort = 10001 // the envelope's /healthz, /readyz, MetricsPath and CallHealthPath
	// MetricsPath, on HealthPort, serves the replica's metrics in
	// Prometheus' text format.
	MetricsPath = "/metrics"
	// CallHealthPath, on HealthPort, serves as JSON the runtime's last
	// envelope.CallHealth: the replicas its calls ejected, and the
	// circuits open.
	CallHealthPath = "/callhealth"
	// EnvelopePath is the pilotage binary in the image, the pod's
	// entrypoint; AppPath the application's binary it starts.
	EnvelopePath = "/pilotage"
	AppPath      = "/app"
	// ConfigDir is where the app's pilotage.toml is mounted (ConfigFile
	// in it), from the version's ConfigMap.
	ConfigDir  = "/etc/pilotage"
	ConfigFile = "pilotage.toml"
)

// Environment variables of the envelope's container.
const (
	// SettingsEnv holds the JSON Settings.
	SettingsEnv = "PILOTAGE_POD"
	// Set from the downward API.
	PodNameEnv      = "PILOTAGE_POD_NAME"
	PodNamespaceEnv = "PILOTAGE_POD_NAMESPACE"
	PodIPEnv        = "PILOTAGE_POD_IP"
)

// Settings are what the envelope of one pod needs to know: which group it
// runs and where every component of its version is.
type Settings struct {
	App     string `json:"app"`
	Version string `json:"version"` // also the runtime's deployment id
	Group   string `json:"group"`
	// Components are the full names of the components the pod hosts.
	Components []string `json:"components"`
	// Services maps every component of the app to the headless Service
	// of the group that hosts it: the envelope resolves components from
	// those Services' EndpointSlices.
	Services map[string]string `json:"services"`
	// Needs are the Services of the groups this group calls: the app is
	// not started before each has a ready pod (the order "pilotage run"
	// keeps too).
	Needs []string `json:"needs,omitempty"`
	// Listeners maps each listener the group serves to the address it
	// binds (":8080").
	Listeners map[string]string `json:"listeners,omitempty"`
	// Config says whether the version has a pilotage.toml (mounted at
	// ConfigDir/ConfigFile).
	Config bool `json:"config,omitempty"`
	// Coordination is the app's coordination store (the one the deploy
	// runs, or [coordination] endpoints), for an app that uses it: the
	// app starts once the store answers.
	Coordination *envelope.Coordination `json:"coordination,omitempty"`
	// Telemetry is the app's [telemetry]: the envelope serves the
	// replica's metrics on HealthPort at MetricsPath and exports its
	// spans to the collector it names (sampled by its KubeRatio).
	Telemetry config.Telemetry `json:"telemetry"`
}

// ReadSettings reads the Settings from the environment.
func ReadSettings() (Settings, error) {
	var s Settings
	v := os.Getenv(SettingsEnv)
	if v == "" {
		return s, fmt.Errorf("$%s is not set: this command runs inside a pod made by pilotage deploy", SettingsEnv)
	}
	if err := json.Unmarshal([]byte(v), &s); err != nil {
		return s, fmt.Errorf("$%s: %w", SettingsEnv, err)
	}
	if s.App == "" || s.Version == "" || s.Group == "" || len(s.Components) == 0 {
		return s, fmt.Errorf("$%s: app, version, group and components are required", SettingsEnv)
	}
	return s, nil
}

// Encode returns s as the value of SettingsEnv.
func (s Settings) Encode() string {
	b, _ := json.Marshal(s) // only strings, slices and maps of them: cannot fail
	return string(b)
}

// maxName is the longest object name that is also a valid Service name
// (an RFC 1035 label).
const maxName = 63

// Name returns a DNS label for an object of app: the parts joined by '-',
// lowercased, every run of other characters than letters and digits
// turned into one '-'. A name that would pass 63 characters keeps its
// start and ends with a hash of the whole, so that long names stay
// distinct. (Inputs that differ only in case or punctuation map to one
// name: the objects package refuses such an app.)
func Name(parts ...string) string {
	full := strings.Join(parts, "-")
	b := make([]byte, 0, len(full))
	for _, c := range []byte(strings.ToLower(full)) {
		if ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') {
			b = append(b, c)
		} else if len(b) > 0 && b[len(b)-1] != '-' {
			b = append(b, '-')
		}
	}
	name := strings.Trim(string(b), "-")
	if name != "" && name[0] >= '0' && name[0] <= '9' {
		name = "p" + name // a Service name starts with a letter
	}
	if len(name) > maxName {
		sum := sha256.Sum256([]byte(full))
		name = strings.TrimRight(name[:maxName-7], "-") + "-" + hex.EncodeToString(sum[:])[:6]
	}
	return name
}

// GroupService is the headless Service of a group of one version.
func GroupService(app, version, group string) string { return Name(app, version, group) }

// GroupDeployment is the Deployment of a group of one version.
func GroupDeployment(app, version, group string) string { return Name(app, version, group) }

// ListenerService is the Service clients reach a listener by; it outlives
// versions.
func ListenerService(app, listener string) string { return Name(app, listener) }

// ConfigMap holds one version's pilotage.toml.
func ConfigMap(app, version string) string { return Name(app, version, "config") }

// ServiceAccount, Role and RoleBinding let the app's pods read
// EndpointSlices: one of each per app.
func ServiceAccount(app string) string { return Name(app, "pilotage") }

// State is the ConfigMap that records which version of app is live.
func State(app string) string { return Name(app, "pilotage-state") }
