package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCoordination(t *testing.T) {
	f, err := Parse("p.toml", `
[coordination]
endpoints = ["https://etcd-0:2379", "http://10.0.0.2:2379", "unix:///run/etcd.sock"]
ttl = "3s"
`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"https://etcd-0:2379", "http://10.0.0.2:2379", "unix:///run/etcd.sock"}
	if !slices.Equal(f.Coordination.Endpoints, want) || f.Coordination.TTL.Duration != 3*time.Second {
		t.Errorf("parsed %+v", f.Coordination)
	}
	if f, err := Parse("p.toml", "[coordination]\nttl = \"2s\"\n"); err != nil || f.Coordination.Endpoints != nil {
		t.Errorf("a ttl alone: %+v, %v; want no endpoints (the embedded store)", f, err)
	}
}

// Every bad [coordination] value is reported where it is, saying what is
// wanted.
func TestCoordinationRejected(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"[coordination]\nendpoints = []\n", `p.toml:2:14: [coordination] endpoints = []: want at least one etcd endpoint`},
		{"[coordination]\nendpoints = [\"etcd-0:2379\"]\n", `endpoints[0] = "etcd-0:2379": not a URL: want http://host:port`},
		{"[coordination]\nendpoints = [\"etcd-0\"]\n", `endpoints[0] = "etcd-0": not a URL: want http://host:port`},
		{"[coordination]\nendpoints = [\"http://etcd-0\"]\n", `endpoints[0] = "http://etcd-0": want http://host:port`},
		{"[coordination]\nendpoints = [\"http://etcd-0:2379/v3\"]\n", `endpoints[0] = "http://etcd-0:2379/v3": want http://host:port`},
		{"[coordination]\nendpoints = [\"grpc://etcd-0:2379\"]\n", `scheme "grpc": want http://host:port, https://host:port or unix:///path`},
		{"[coordination]\nendpoints = [\"unix://etcd.sock\"]\n", `endpoints[0] = "unix://etcd.sock": want an absolute socket path`},
		{"[coordination]\nendpoints = [\"http://a:1\", \"http://a:1\"]\n", `endpoints[1] = "http://a:1": named twice`},
		{"[coordination]\nttl = \"500ms\"\n", `p.toml:2:8: [coordination] ttl = "500ms": want at least 1s`},
		{"[coordination]\nttl = \"-2s\"\n", `ttl = "-2s": want at least 1s`},
		{"[coordination]\nttl = \"1500ms\"\n", `ttl = "1.5s": want a whole number of seconds`},
		{"[coordination]\nendpoint = [\"http://a:1\"]\n", `unknown key "coordination.endpoint"`},
	} {
		_, err := Parse("p.toml", tc.text)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error containing %q", tc.text, err, tc.want)
		}
	}
}
