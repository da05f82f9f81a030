package config

import (
	"cmp"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// Kube holds the [kube] section: how "pilotage deploy" puts the app on a
// Kubernetes cluster. Flags of the command override it.
type Kube struct {
	// Registry is the image repository prefix the app's image is pushed
	// to and pulled from: "ghcr.io/acme", "localhost:5000". The image is
	// <registry>/<app>.
	Registry string `toml:"registry"`
	// Namespace to deploy to; empty: the kubeconfig context's.
	Namespace string `toml:"namespace"`
	// The coordination store the deploy runs for an app that uses
	// github.com/pilotage/pilotage/coord and names no [coordination]
	// endpoints: an etcd StatefulSet of EtcdReplicas members (1, 3 or 5;
	// default 1), each keeping its data in a PersistentVolumeClaim of
	// EtcdStorage (default "1Gi") of EtcdStorageClass (default: the
	// cluster's default StorageClass). EtcdStorage "emptyDir" keeps it in
	// the pod instead: lost with the pod, and with it every lock, config
	// key and the fencing tokens' order; for trying things out only.
	EtcdReplicas     int    `toml:"etcd_replicas"`
	EtcdStorage      string `toml:"etcd_storage"`
	EtcdStorageClass string `toml:"etcd_storage_class"`
	// CPU and Memory are what every pod of the app requests ("250m",
	// "256Mi"); Memory is also its limit (a pod past it is killed and
	// restarted, rather than starving its node). Empty: no request.
	CPU    string `toml:"cpu"`
	Memory string `toml:"memory"`
	// Autoscale gives the group of each component named (full or short
	// name) a HorizontalPodAutoscaler on its pods' CPU.
	Autoscale map[string]Autoscale `toml:"autoscale"`
}

// Autoscale is one [kube.autoscale."<component>"] section: the group's
// pods go from Min to Max to keep their CPU use near CPUPercent of the
// request ([kube] cpu, required).
type Autoscale struct {
	Min        int `toml:"min"`         // default 1
	Max        int `toml:"max"`         // required, at least Min
	CPUPercent int `toml:"cpu_percent"` // default DefaultCPUPercent
}

// DefaultCPUPercent is the CPU use an autoscaled group aims at.
const DefaultCPUPercent = 80

// Defaults of the store the deploy runs.
const (
	DefaultEtcdReplicas = 1
	DefaultEtcdStorage  = "1Gi"
	// EtcdEmptyDir as etcd_storage keeps the store's data in the pod.
	EtcdEmptyDir = "emptyDir"
)

// storageSize is a Kubernetes quantity of bytes, in the forms a volume's
// size is written: "512Mi", "1Gi", "10G", "1000000".
var storageSize = regexp.MustCompile(`^[1-9][0-9]*(Ki|Mi|Gi|Ti|k|M|G|T)?$`)

// cpuAmount is a Kubernetes CPU quantity: "2", "0.5", "250m".
var cpuAmount = regexp.MustCompile(`^([1-9][0-9]*m|[0-9]+(\.[0-9]+)?)$`)

// validateKube reports every problem of [kube].
func (f *File) validateKube() []error {
	var errs []error
	bad := func(key string, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: [kube] %s", f.Where("kube", key), fmt.Sprintf(format, args...)))
	}
	k := f.Kube
	if f.meta.IsDefined("kube", "etcd_replicas") && k.EtcdReplicas != 1 && k.EtcdReplicas != 3 && k.EtcdReplicas != 5 {
		bad("etcd_replicas", "etcd_replicas = %d: want 1, 3 or 5 (an etcd cluster needs a majority of its members)", k.EtcdReplicas)
	}
	if f.meta.IsDefined("kube", "etcd_storage") && k.EtcdStorage != EtcdEmptyDir && !storageSize.MatchString(k.EtcdStorage) {
		bad("etcd_storage", "etcd_storage = %q: want a size (\"1Gi\", \"512Mi\") or %q", k.EtcdStorage, EtcdEmptyDir)
	}
	if k.EtcdStorage == EtcdEmptyDir && k.EtcdStorageClass != "" {
		bad("etcd_storage_class", "etcd_storage_class = %q: the store's data is in an emptyDir (etcd_storage), not a volume", k.EtcdStorageClass)
	}
	if f.meta.IsDefined("kube", "cpu") && (!cpuAmount.MatchString(k.CPU) || strings.Trim(k.CPU, "0.m") == "") {
		bad("cpu", "cpu = %q: want a CPU amount (\"250m\", \"0.5\", \"2\")", k.CPU)
	}
	if f.meta.IsDefined("kube", "memory") && !storageSize.MatchString(k.Memory) {
		bad("memory", "memory = %q: want a size (\"256Mi\", \"1Gi\")", k.Memory)
	}
	for _, name := range slices.Sorted(maps.Keys(k.Autoscale)) {
		a := k.Autoscale[name]
		where := func(key string) string { return f.Where("kube", "autoscale", name, key) }
		section := fmt.Sprintf("[kube.autoscale.%q]", name)
		switch {
		case k.CPU == "":
			errs = append(errs, fmt.Errorf("%s: %s: autoscaling follows CPU use against the pods' request: set [kube] cpu", f.Where("kube", "autoscale", name), section))
		case f.meta.IsDefined("kube", "autoscale", name, "min") && a.Min < 1:
			errs = append(errs, fmt.Errorf("%s: %s min = %d: want at least 1", where("min"), section, a.Min))
		case a.Max < max(a.Min, 1):
			errs = append(errs, fmt.Errorf("%s: %s max = %d: want at least min (%d)", where("max"), section, a.Max, max(a.Min, 1)))
		case f.meta.IsDefined("kube", "autoscale", name, "cpu_percent") && (a.CPUPercent < 1 || a.CPUPercent > 100):
			errs = append(errs, fmt.Errorf("%s: %s cpu_percent = %d: want 1 to 100", where("cpu_percent"), section, a.CPUPercent))
		}
	}
	if len(f.Coordination.Endpoints) > 0 {
		for _, key := range []string{"etcd_replicas", "etcd_storage", "etcd_storage_class"} {
			if f.meta.IsDefined("kube", key) {
				bad(key, "%s: the app's store is the one [coordination] endpoints names: the deploy runs none", key)
			}
		}
	}
	return errs
}

// Scale returns a with the defaults filled in.
func (a Autoscale) Scale() (minPods, maxPods, cpuPercent int) {
	return max(a.Min, 1), a.Max, cmp.Or(a.CPUPercent, DefaultCPUPercent)
}

// Store returns the store's settings with the defaults filled in.
func (k Kube) Store() (replicas int, storage, class string) {
	replicas, storage = k.EtcdReplicas, k.EtcdStorage
	if replicas == 0 {
		replicas = DefaultEtcdReplicas
	}
	if storage == "" {
		storage = DefaultEtcdStorage
	}
	return replicas, storage, k.EtcdStorageClass
}
