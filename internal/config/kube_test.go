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
}

// Every bad value of the store's settings is reported where it is.
func TestKubeStoreRejected(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"[kube]\netcd_replicas = 2\n", `p.toml:2:17: [kube] etcd_replicas = 2: want 1, 3 or 5`},
		{"[kube]\netcd_replicas = 0\n", `etcd_replicas = 0: want 1, 3 or 5`},
		{"[kube]\netcd_storage = \"1 GB\"\n", `etcd_storage = "1 GB": want a size ("1Gi", "512Mi") or "emptyDir"`},
		{"[kube]\netcd_storage = \"emptyDir\"\netcd_storage_class = \"fast\"\n", `the store's data is in an emptyDir`},
		{"[coordination]\nendpoints = [\"http://a:1\"]\n[kube]\netcd_replicas = 3\n", `etcd_replicas: the app's store is the one [coordination] endpoints names`},
	} {
		_, err := Parse("p.toml", tc.text)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error containing %q", tc.text, err, tc.want)
		}
	}
}
