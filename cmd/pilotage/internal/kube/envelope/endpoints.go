package envelope

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
)

// endpoints follows the EndpointSlices of one version's group Services
// and keeps, for each Service, the RPC addresses of its ready pods.
type endpoints struct {
	mu      sync.Mutex
	byName  map[string][]string // Service name -> sorted "tcp:ip:port"
	stopped map[string]bool     // Services of groups "pilotage stop" stopped
	changed chan struct{}       // gets a value (never blocking) on every change
	lister  func() ([]*discoveryv1.EndpointSlice, error)
}

// watchEndpoints starts an informer on the EndpointSlices of app's
// version in namespace; it returns once the informer has synced.
func watchEndpoints(ctx context.Context, cs kubernetes.Interface, namespace, app, version string) (*endpoints, error) {
	selector := labels.SelectorFromSet(labels.Set{layout.LabelApp: app, layout.LabelVersion: version, layout.LabelRole: layout.RoleGroup}).String()
	f := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = selector }))
	inf := f.Discovery().V1().EndpointSlices()
	e := &endpoints{byName: map[string][]string{}, changed: make(chan struct{}, 1)}
	e.lister = func() ([]*discoveryv1.EndpointSlice, error) { return inf.Lister().List(labels.Everything()) }
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { e.refresh() },
		UpdateFunc: func(any, any) { e.refresh() },
		DeleteFunc: func(any) { e.refresh() },
	}); err != nil {
		return nil, fmt.Errorf("watch endpointslices: %w", err)
	}
	f.Start(ctx.Done())
	for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return nil, fmt.Errorf("watch endpointslices: %v did not sync: %w", typ, context.Cause(ctx))
		}
	}
	e.refresh()
	return e, nil
}

// refresh recomputes the table from the informer's cache.
func (e *endpoints) refresh() {
	list, err := e.lister()
	if err != nil {
		return // the lister of an informer's cache does not fail
	}
	next := map[string][]string{}
	stopped := map[string]bool{}
	for _, s := range list {
		svc := s.Labels[discoveryv1.LabelServiceName]
		if svc == "" {
			continue
		}
		if s.Labels[layout.LabelStopped] == "true" {
			stopped[svc] = true
		}
		if _, ok := next[svc]; !ok {
			next[svc] = nil
		}
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue // not ready, or terminating
			}
			for _, a := range ep.Addresses {
				next[svc] = append(next[svc], layout.RPCAddress(a))
			}
		}
	}
	for svc := range next {
		sort.Strings(next[svc])
		next[svc] = slices.Compact(next[svc])
	}
	e.mu.Lock()
	same := maps.EqualFunc(e.byName, next, slices.Equal[[]string]) && maps.Equal(e.stopped, stopped)
	e.byName, e.stopped = next, stopped
	e.mu.Unlock()
	if !same {
		select {
		case e.changed <- struct{}{}:
		default:
		}
	}
}

// addresses returns the ready addresses of Service svc.
func (e *endpoints) addresses(svc string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.byName[svc]
}

// isStopped says whether Service svc's group was stopped on purpose.
func (e *endpoints) isStopped(svc string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stopped[svc]
}

// missing returns the Services among svcs with no ready pod, but for
// those of stopped groups: a pod does not wait for a group stopped on
// purpose (its calls to it fail fast).
func (e *endpoints) missing(svcs []string) []string {
	var out []string
	for _, s := range svcs {
		if len(e.addresses(s)) == 0 && !e.isStopped(s) {
			out = append(out, s)
		}
	}
	return out
}
