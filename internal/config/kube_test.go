package config

import (
	"strings"
	"testing"
)

func TestKubeStore(t *testing.T) {
	f, err := Parse("p.toml", "[kube]\netcd_replicas = 3\netcd_storage = \"512Mi\"\netcd_storage_class = \"fast\"\n")
	if err != nil {
		t.Fatal(err)
	}
	if n, size, class := f.Kube.Store(); n != 3 || size != "512Mi" || class != "fast" {
		t.Errorf("Store() = %d, %q, %q", n, size, class)
	}
	if n, size, class := Empty().Kube.Store(); n != DefaultEtcdReplicas || size != DefaultEtcdStorage || class != "" {
		t.Errorf("defaults: Store() = %d, %q, %q", n, size, class)
	}
	f, err = Parse("p.toml", "[kube]\ncpu = \"250m\"\nmemory = \"256Mi\"\n[kube.autoscale.\"cart.Cart\"]\nmax = 5\n")
	if err != nil {
		t.Fatal(err)
	}
	if lo, hi, pct := f.Kube.Autoscale["cart.Cart"].Scale(); lo != 1 || hi != 5 || pct != DefaultCPUPercent || f.Kube.CPU != "250m" || f.Kube.Memory != "256Mi" {
		t.Errorf("Scale() = %d, %d, %d; kube %+v", lo, hi, pct, f.Kube)
	}
}

// Every bad value of the store's settings is reported where it is.
func TestKubeStoreRejected(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"[kube]\netcd_replicas = 2\n", `p.toml:2:17: [kube] etcd_replicas = 2: want 1, 3 or 5`},
		{"[kube]\netcd_replicas = 0\n", `etcd_replicas = 0: want 1, 3 or 5`},
		{"[kube]\netcd_storage = \"1 GB\"\n", `etcd_storage = "1 GB": want a size ("1Gi", "512Mi") or "emptyDir"`},
		{"[kube]\netcd_storage = \"emptyDir\"\netcd_storage_class = \"fast\"\n", `the store's data is in an emptyDir`},
		{"[coordination]\nendpoints = [\"http://a:1\"]\n[kube]\netcd_replicas = 3\n", `etcd_replicas: the app's store is the one [coordination] endpoints names`},
		{"[kube]\ncpu = \"a lot\"\n", `[kube] cpu = "a lot": want a CPU amount`},
		{"[kube]\ncpu = \"0m\"\n", `[kube] cpu = "0m": want a CPU amount`},
		{"[kube]\nmemory = \"1GB\"\n", `[kube] memory = "1GB": want a size`},
		{"[kube.autoscale.\"cart.Cart\"]\nmax = 4\n", `[kube.autoscale."cart.Cart"]: autoscaling follows CPU use against the pods' request: set [kube] cpu`},
		{"[kube]\ncpu = \"1\"\n[kube.autoscale.\"cart.Cart\"]\nmin = 3\nmax = 2\n", `p.toml:5:7: [kube.autoscale."cart.Cart"] max = 2: want at least min (3)`},
		{"[kube]\ncpu = \"1\"\n[kube.autoscale.\"cart.Cart\"]\nmax = 2\ncpu_percent = 120\n", `cpu_percent = 120: want 1 to 100`},
	} {
		_, err := Parse("p.toml", tc.text)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error containing %q", tc.text, err, tc.want)
		}
	}
}
