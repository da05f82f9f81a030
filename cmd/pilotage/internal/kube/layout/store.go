package layout

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// The coordination store "pilotage deploy" runs for an app that names no
// [coordination] endpoints: an etcd StatefulSet (Store) whose members are
// found through a headless Service of the same name, StorePodName(app, i)
// being member i. It belongs to the app, not to a version: every version
// shares it, as they share locks and config keys.
const (
	// RoleStore is the LabelRole of the store's objects.
	RoleStore = "coordination"
	// Ports of a store pod: etcd's client and peer ports.
	StoreClientPort = 2379
	StorePeerPort   = 2380
	// StoreDataDir is where a member's volume is mounted; etcd's data
	// goes in its "data" directory (etcd wants it 0700).
	StoreDataDir = "/var/lib/pilotage-etcd"
	// StoreSettingsEnv holds a store pod's JSON StoreSettings.
	StoreSettingsEnv = "PILOTAGE_STORE"
	// StoreCommand is the store pods' entrypoint, after EnvelopePath.
	StoreCommand = "kube-etcd"
)

// StoreVolume is the name of a member's volume (its claim template's).
const StoreVolume = "data"

// StoreClaim is the PersistentVolumeClaim the StatefulSet makes for the
// member in pod.
func StoreClaim(pod string) string { return StoreVolume + "-" + pod }

// Store is the StatefulSet, and its headless Service, of app's store.
func Store(app string) string { return Name(app, "etcd") }

// StorePodName is the pod of member i of app's store.
func StorePodName(app string, i int) string { return Store(app) + "-" + strconv.Itoa(i) }

// storeHost is member i's DNS name: the pod's name under the headless
// Service, resolved through the search path of a pod of the namespace
// (so the same settings hold in any namespace, and in a Helm chart).
func storeHost(app string, i int) string { return StorePodName(app, i) + "." + Store(app) }

// StoreEndpoints returns the client URLs of a store of n members.
func StoreEndpoints(app string, n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("http://%s:%d", storeHost(app, i), StoreClientPort))
	}
	return out
}

// StoreSettings are what a store pod needs to know besides its own name.
type StoreSettings struct {
	App     string `json:"app"`
	Members int    `json:"members"`
}

// Member describes member name of the store s: its client and peer URLs
// and the initial cluster of all members, as etcd's flags take them.
func (s StoreSettings) Member(name string) (client, peer, cluster string, err error) {
	var all []string
	self := -1
	for i := range s.Members {
		all = append(all, fmt.Sprintf("%s=http://%s:%d", StorePodName(s.App, i), storeHost(s.App, i), StorePeerPort))
		if StorePodName(s.App, i) == name {
			self = i
		}
	}
	if self < 0 {
		return "", "", "", fmt.Errorf("pod %s is not a member of %s's store (%s-0 to -%d)", name, s.App, Store(s.App), s.Members-1)
	}
	host := storeHost(s.App, self)
	return fmt.Sprintf("http://%s:%d", host, StoreClientPort), fmt.Sprintf("http://%s:%d", host, StorePeerPort), strings.Join(all, ","), nil
}

// Encode returns s as the value of StoreSettingsEnv.
func (s StoreSettings) Encode() string {
	b, _ := json.Marshal(s) // a string and an int: cannot fail
	return string(b)
}

// ReadStoreSettings reads the StoreSettings from the environment.
func ReadStoreSettings() (StoreSettings, error) {
	var s StoreSettings
	v := os.Getenv(StoreSettingsEnv)
	if v == "" {
		return s, fmt.Errorf("$%s is not set: this command runs inside a store pod made by pilotage deploy", StoreSettingsEnv)
	}
	if err := json.Unmarshal([]byte(v), &s); err != nil {
		return s, fmt.Errorf("$%s: %w", StoreSettingsEnv, err)
	}
	if s.App == "" || s.Members < 1 {
		return s, fmt.Errorf("$%s: app and members are required", StoreSettingsEnv)
	}
	return s, nil
}
