package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
)

// AppStatus is what "pilotage status --kube" shows of a deployed app.
type AppStatus struct {
	App       string         `json:"app"`
	Namespace string         `json:"namespace"`
	Cluster   string         `json:"cluster"`
	Live      string         `json:"live"`
	Previous  string         `json:"previous,omitempty"` // retired, kept for rollback
	Canary    string         `json:"canary,omitempty"`
	Share     int            `json:"canary_share,omitempty"`
	Groups    []GroupStatus  `json:"groups"`
	Listeners []ListenStatus `json:"listeners"`
	Store     *StoreStatus   `json:"coordination_store,omitempty"` // the one the deploy runs, if any
	Router    *RouterStatus  `json:"canary_router,omitempty"`      // while a canary runs
	// Calls are the components whose callers ejected pods, or opened
	// their circuit; CallsError names the pods that did not say.
	Calls      []CallStatus `json:"calls,omitempty"`
	CallsError string       `json:"calls_error,omitempty"`
}

// RouterStatus is a canary's router and what it counted.
type RouterStatus struct {
	Deployment string              `json:"deployment"`
	Ready      int32               `json:"ready"`
	Replicas   int32               `json:"replicas"`
	Sticky     string              `json:"sticky,omitempty"`
	Counts     *layout.CanaryStats `json:"counts,omitempty"`
	// CountsError says why Counts could not be read (all or part).
	CountsError string `json:"counts_error,omitempty"`
}

// StoreStatus is the coordination store the deploy runs for an app.
type StoreStatus struct {
	StatefulSet string   `json:"statefulset"`
	Ready       int32    `json:"ready"`
	Members     int32    `json:"members"`
	Endpoints   []string `json:"endpoints"`
}

// GroupStatus is one group of one version.
type GroupStatus struct {
	Version    string   `json:"version"`
	Group      string   `json:"group"`
	Ready      int32    `json:"ready"`
	Replicas   int32    `json:"replicas"`   // wanted now
	Configured int32    `json:"configured"` // while its version serves
	Stopped    bool     `json:"stopped,omitempty"`
	Components []string `json:"components"`
}

// ListenStatus is one listener Service.
type ListenStatus struct {
	Listener string `json:"listener"`
	Service  string `json:"service"`
	Port     int32  `json:"port"`
	Ready    int    `json:"ready_endpoints"`
	Selector string `json:"selector"`
}

// Status reads what app runs in the target namespace.
func Status(ctx context.Context, t Target, app string) (*AppStatus, error) {
	c, err := Connect(t)
	if err != nil {
		return nil, err
	}
	return c.Status(ctx, app)
}

// Status reads what app runs in the cluster's namespace.
func (c *Cluster) Status(ctx context.Context, app string) (*AppStatus, error) {
	st, err := c.deployedState(ctx, app)
	if err != nil {
		return nil, err
	}
	out := &AppStatus{App: app, Namespace: c.Namespace, Cluster: c.Host, Live: st.Live, Previous: st.Previous, Canary: st.Canary, Share: st.Share}
	deps, err := c.Client.AppsV1().Deployments(c.Namespace).List(ctx, metav1.ListOptions{LabelSelector: layout.LabelApp + "=" + app})
	if err != nil {
		return nil, fmt.Errorf("list deployments: %w", explain(err))
	}
	stopped := map[string]bool{}
	svcs, err := c.Client.CoreV1().Services(c.Namespace).List(ctx, metav1.ListOptions{LabelSelector: layout.LabelApp + "=" + app})
	if err != nil {
		return nil, fmt.Errorf("list services: %w", explain(err))
	}
	for _, s := range svcs.Items {
		if s.Labels[layout.LabelStopped] == "true" {
			stopped[s.Name] = true
		}
		if s.Labels[layout.LabelRole] != layout.RoleListener || len(s.Spec.Ports) == 0 {
			continue
		}
		ips, err := c.endpointIPs(ctx, s.Name)
		if err != nil {
			return nil, err
		}
		out.Listeners = append(out.Listeners, ListenStatus{
			Listener: strings.TrimPrefix(s.Name, layout.Name(app)+"-"),
			Service:  s.Name, Port: s.Spec.Ports[0].Port, Ready: len(ips),
			Selector: labels.SelectorFromSet(s.Spec.Selector).String(),
		})
	}
	for _, d := range deps.Items {
		if d.Labels[layout.LabelRole] == layout.RoleRouter {
			out.Router = c.routerStatus(ctx, &d, st)
			continue
		}
		configured, err := configuredReplicas(&d)
		if err != nil {
			return nil, err
		}
		g := GroupStatus{
			Version: d.Labels[layout.LabelVersion], Group: d.Labels[layout.LabelGroup],
			Ready: d.Status.ReadyReplicas, Replicas: *d.Spec.Replicas, Configured: configured,
			Stopped: stopped[d.Name], Components: strings.Split(d.Annotations[layout.AnnotationComponents], ","),
		}
		out.Groups = append(out.Groups, g)
	}
	set, err := c.Client.AppsV1().StatefulSets(c.Namespace).Get(ctx, layout.Store(app), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return nil, fmt.Errorf("read statefulset %s: %w", layout.Store(app), explain(err))
	case set.Labels[layout.LabelApp] == app && set.Spec.Replicas != nil:
		n := *set.Spec.Replicas
		out.Store = &StoreStatus{StatefulSet: set.Name, Ready: set.Status.ReadyReplicas, Members: n, Endpoints: layout.StoreEndpoints(app, int(n))}
	}
	calls, err := c.callHealth(ctx, app, st)
	out.Calls = calls
	if err != nil {
		out.CallsError = err.Error()
	}
	rank := func(v string) int { // live first, then canary, previous, others
		switch v {
		case st.Live:
			return 0
		case st.Canary:
			return 1
		case st.Previous:
			return 2
		}
		return 3
	}
	sort.Slice(out.Groups, func(i, j int) bool {
		a, b := out.Groups[i], out.Groups[j]
		if rank(a.Version) != rank(b.Version) {
			return rank(a.Version) < rank(b.Version)
		}
		return a.Group < b.Group
	})
	return out, nil
}

// routerStatus returns the state of the canary router d, and its counts.
func (c *Cluster) routerStatus(ctx context.Context, d *appsv1.Deployment, st state) *RouterStatus {
	r := &RouterStatus{Deployment: d.Name, Ready: d.Status.ReadyReplicas, Replicas: ptr.Deref(d.Spec.Replicas, 1)}
	for _, ct := range d.Spec.Template.Spec.Containers {
		for _, e := range ct.Env {
			var s layout.RouterSettings
			if e.Name == layout.RouterSettingsEnv && json.Unmarshal([]byte(e.Value), &s) == nil {
				r.Sticky = s.Sticky
			}
		}
	}
	counts, n, err := c.canaryStats(ctx, d.Labels[layout.LabelApp], st)
	if n > 0 {
		r.Counts = &counts
	}
	if err != nil {
		r.CountsError = err.Error()
	}
	return r
}
