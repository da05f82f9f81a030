package kubefs

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// A counter counts the requests of the clients whose transport it wraps.
type counter struct{ n atomic.Int64 }

func (c *counter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		c.n.Add(1)
		return rt.RoundTrip(r)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func newFS(t testing.TB, opts Options) *FS {
	t.Helper()
	fs, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fs.Close)
	return fs
}

func TestNoKubeconfig(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope", "config")
	t.Setenv("KUBECONFIG", missing)
	for _, opts := range []Options{{}, {Kubeconfig: missing}} {
		fs := newFS(t, opts)
		ctx := context.Background()
		nodes, err := fs.List(ctx, "/kube")
		if err != nil || len(nodes) != 0 {
			t.Errorf("%+v: List /kube = %v, %v; want empty", opts, nodes, err)
		}
		if n, err := fs.Stat(ctx, "/kube"); err != nil || !n.Dir {
			t.Errorf("%+v: Stat /kube = %+v, %v", opts, n, err)
		}
		_, err = fs.List(ctx, "/kube/prod/namespaces")
		if !errors.Is(err, tree.ErrNotFound) || !strings.Contains(err.Error(), "no kubeconfig found") ||
			!strings.Contains(err.Error(), missing) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%+v: List under /kube = %v; want one line saying no kubeconfig was found at %s", opts, err, missing)
		}
	}
}

// writeKubeconfig writes a kubeconfig with the contexts a (current) and
// b of a cluster at server.
func writeKubeconfig(t *testing.T, server string) string {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: server}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: "t"}
	for _, name := range []string{"a", "b/x"} {
		cfg.Contexts[name] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	}
	cfg.CurrentContext = "a"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestContextsWithoutConnecting checks that the contexts are read from
// the kubeconfig alone, and that a server that is not there is said to be
// unavailable, in one line naming it.
func TestContextsWithoutConnecting(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := "https://" + l.Addr().String()
	l.Close() // nobody listens there now
	var requests counter
	fs := newFS(t, Options{Kubeconfig: writeKubeconfig(t, server), WrapTransport: requests.wrap})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	nodes, err := fs.List(ctx, "/kube")
	if err != nil || len(nodes) != 2 {
		t.Fatalf("List /kube = %v, %v", nodes, err)
	}
	if nodes[0].Name != "a" || nodes[0].Info != server+" (current)" || nodes[1].Path != "/kube/b%2Fx" || nodes[1].Info != server {
		t.Errorf("contexts = %+v", nodes)
	}
	if n, err := fs.Stat(ctx, "/kube/b%2Fx"); err != nil || n.Kind != "Context" || !n.Dir {
		t.Errorf("Stat context = %+v, %v", n, err)
	}
	if nodes, err := fs.List(ctx, "/kube/a"); err != nil || len(nodes) != 2 || nodes[0].Name != "cluster" || nodes[1].Name != "namespaces" {
		t.Errorf("List /kube/a = %+v, %v", nodes, err)
	}
	if _, err := fs.Stat(ctx, "/kube/a/namespaces"); err != nil {
		t.Errorf("Stat namespaces: %v", err)
	}
	if _, err := fs.Stat(ctx, "/kube/c"); !errors.Is(err, tree.ErrNotFound) || !strings.Contains(err.Error(), `no context "c"`) {
		t.Errorf("Stat of a missing context = %v", err)
	}
	if n := requests.n.Load(); n != 0 {
		t.Errorf("%d requests before any path below a context was used", n)
	}

	_, err = fs.List(ctx, "/kube/a/namespaces/default/pods")
	if !errors.Is(err, tree.ErrUnavailable) || !strings.HasPrefix(err.Error(), "/kube/a/namespaces/default/pods: ") ||
		!strings.Contains(err.Error(), server) || strings.Contains(err.Error(), "\n") {
		t.Errorf("List with the server down = %v; want one line, unavailable, naming %s", err, server)
	}
}
