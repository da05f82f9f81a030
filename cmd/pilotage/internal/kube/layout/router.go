package layout

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// A canary's router: while a version is a canary, the listener Services
// select the pods of the Deployment Router(app), "pilotage kube-router"
// pods that share each HTTP request between the live version and the
// canary, and count each one's replies and errors. They reach the
// versions through a Service per version and listener
// (CanaryBackend). Both belong to the canary: promote and abort delete
// them.
const (
	// RoleRouter is the LabelRole of the router's Deployment and pods;
	// RoleCanaryBackend that of the Services the router forwards to.
	RoleRouter        = "canary-router"
	RoleCanaryBackend = "canary-backend"
	// RouterSettingsEnv holds a router pod's JSON RouterSettings.
	RouterSettingsEnv = "PILOTAGE_ROUTER"
	// RouterCommand is the router pods' entrypoint, after EnvelopePath.
	RouterCommand = "kube-router"
	// RouterStatsPath, on HealthPort of a router pod, serves its
	// CanaryStats as JSON.
	RouterStatsPath = "/canary"
)

// Router is the Deployment of app's canary router.
func Router(app string) string { return Name(app, "canary-router") }

// CanaryBackend is the Service that reaches listener on the pods of
// version, while that version is the live one or the canary.
func CanaryBackend(app, version, listener string) string {
	return Name(app, version, "canary", listener)
}

// RouterSettings are what a router pod needs to know.
type RouterSettings struct {
	App    string `json:"app"`
	Live   string `json:"live"`
	Canary string `json:"canary"`
	// Share is the canary's percent of requests.
	Share int `json:"share"`
	// Sticky, if set, makes a client's requests go to one version, the
	// one a hash of this header or cookie picks (see ParseSticky);
	// requests without it are shared one by one.
	Sticky string `json:"sticky,omitempty"`
	// Listeners maps each listener to the port it is served on, by the
	// router as by the versions' pods.
	Listeners map[string]int32 `json:"listeners"`
}

// Encode returns s as the value of RouterSettingsEnv.
func (s RouterSettings) Encode() string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // plain data: cannot fail
	}
	return string(b)
}

// ReadRouterSettings reads a router pod's settings from its environment.
func ReadRouterSettings() (RouterSettings, error) {
	var s RouterSettings
	v := os.Getenv(RouterSettingsEnv)
	if v == "" {
		return s, fmt.Errorf("$%s is not set: this command runs in the canary router's pods of pilotage deploy", RouterSettingsEnv)
	}
	if err := json.Unmarshal([]byte(v), &s); err != nil {
		return s, fmt.Errorf("$%s: %w", RouterSettingsEnv, err)
	}
	if _, _, err := ParseSticky(s.Sticky); err != nil {
		return s, err
	}
	return s, nil
}

// ParseSticky splits a stickiness rule, "header:<name>" or
// "cookie:<name>" ("" for none), into its kind and name.
func ParseSticky(rule string) (kind, name string, err error) {
	if rule == "" {
		return "", "", nil
	}
	kind, name, _ = strings.Cut(rule, ":")
	if (kind != "header" && kind != "cookie") || name == "" || strings.ContainsAny(name, " \t;,=") {
		return "", "", fmt.Errorf("sticky %q: want header:<name> or cookie:<name> (header:X-User, cookie:session)", rule)
	}
	return kind, name, nil
}

// CanaryStats is what a router counted since it started.
type CanaryStats struct {
	Live   VersionStats `json:"live"`
	Canary VersionStats `json:"canary"`
}

// VersionStats counts the requests a router sent to one version, and
// those that failed: a reply of status 500 or more, or none at all.
type VersionStats struct {
	Version  string `json:"version"`
	Requests int64  `json:"requests"`
	Errors   int64  `json:"errors"`
}

// Add adds the counts of o, a router's, to s.
func (s *CanaryStats) Add(o CanaryStats) {
	s.Live.Requests += o.Live.Requests
	s.Live.Errors += o.Live.Errors
	s.Canary.Requests += o.Canary.Requests
	s.Canary.Errors += o.Canary.Errors
}

// String says what a router counted.
func (s CanaryStats) String() string {
	total := s.Live.Requests + s.Canary.Requests
	share := 0.0
	if total > 0 {
		share = 100 * float64(s.Canary.Requests) / float64(total)
	}
	return fmt.Sprintf("canary %s took %d of %d requests (%.1f %%), %d failed (%.2f %%); live %s: %d failed (%.2f %%)",
		s.Canary.Version, s.Canary.Requests, total, share, s.Canary.Errors, 100*s.Canary.ErrorRatio(),
		s.Live.Version, s.Live.Errors, 100*s.Live.ErrorRatio())
}

// ErrorRatio is the share of v's requests that failed, 0 with none.
func (v VersionStats) ErrorRatio() float64 {
	if v.Requests == 0 {
		return 0
	}
	return float64(v.Errors) / float64(v.Requests)
}
