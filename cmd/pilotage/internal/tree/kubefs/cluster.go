package kubefs

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
)

// Client rates: client-go's defaults (5 requests/s, bursts of 10) make a
// first discovery and a few listings wait; a shell is one user.
const (
	clientQPS   = 50
	clientBurst = 100
)

// A cluster is the connection to the API server of one context: its
// clients, which share one HTTP client, its discovery and its informers.
type cluster struct {
	name   string // the context
	server string // its URL, for errors
	config *rest.Config
	dyn    *dynamic.DynamicClient
	meta   metadata.Interface
	core   corev1client.CoreV1Interface
	apps   appsv1client.AppsV1Interface
	disc   *discoverer

	mu               sync.Mutex
	informers        map[informerKey]*informer
	nsForbiddenUntil time.Time // see forbidNamespaces
}

// newCluster makes the clients of the context name of k. It sends no
// request: the first comes with the first use.
// Its background work runs with bg, counted by wg.
func newCluster(bg context.Context, wg *sync.WaitGroup, k *kubeconfig, name string, wrap func(http.RoundTripper) http.RoundTripper) (*cluster, error) {
	cfg, err := k.restConfig(name)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = clientQPS, clientBurst
	cfg.UserAgent = "pilotage-shell"
	// Deprecation warnings would be printed by client-go on the user's
	// terminal, in the middle of the shell's output.
	cfg.WarningHandler = rest.NoWarnings{}
	if wrap != nil {
		cfg.Wrap(wrap)
	}
	c := &cluster{name: name, server: cfg.Host, config: cfg, informers: map[informerKey]*informer{}}
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("context %s: %w", name, err)
	}
	if c.dyn, err = dynamic.NewForConfigAndClient(cfg, httpClient); err != nil {
		return nil, fmt.Errorf("context %s: %w", name, err)
	}
	if c.meta, err = metadata.NewForConfigAndClient(cfg, httpClient); err != nil {
		return nil, fmt.Errorf("context %s: %w", name, err)
	}
	if c.core, err = corev1client.NewForConfigAndClient(cfg, httpClient); err != nil {
		return nil, fmt.Errorf("context %s: %w", name, err)
	}
	if c.apps, err = appsv1client.NewForConfigAndClient(cfg, httpClient); err != nil {
		return nil, fmt.Errorf("context %s: %w", name, err)
	}
	dc, err := discovery.NewDiscoveryClientForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, fmt.Errorf("context %s: %w", name, err)
	}
	c.disc = &discoverer{client: memory.NewMemCacheClientWithContext(dc), bg: bg, wg: wg}
	return c, nil
}
