package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/objects"
)

// A canary shares each listener's HTTP requests between two versions
// through a router (package router, objects.Router): the listener
// Services select the router's pods, which send the share asked for to
// the canary and the rest to the live version, each reached through a
// Service of its own per listener (objects.CanaryBackends). Both
// versions keep their replicas, and calls behind a listener stay within
// the version that took the request. The router counts each version's
// requests and failures: status shows them, and promote refuses a canary
// that fails more often than the live version.

// Canary shares are bounded: above MaxShare, promote instead.
const (
	MinShare = 1
	MaxShare = 50
)

// promoteSlack is how much higher than the live version's a canary's
// error ratio may be for promote to go ahead without --force.
const promoteSlack = 0.01

// canaryKinds are the kinds of the objects a canary adds beside its
// version's: the router's Deployment and the backend Services.
var canaryKinds = []schema.GroupVersionResource{
	{Group: "apps", Version: "v1", Resource: "deployments"},
	{Version: "v1", Resource: "services"},
}

// startCanary makes version (ready) the canary of the live version with
// share percent of the listeners' requests, routed by the pods of a
// router running toolImage; sticky is the router's stickiness rule.
func (c *Cluster) startCanary(ctx context.Context, app, version string, share int, sticky, toolImage string, st state, out io.Writer) error {
	// Recorded first: if a step below fails, abort finds it and undoes
	// them all.
	st.Canary, st.Share = version, share
	if err := c.writeState(ctx, app, &st); err != nil {
		return err
	}
	bindings := map[string][]objects.Binding{}
	ports := map[string]map[string]int32{}
	for _, v := range []string{st.Live, version} {
		deps, err := c.versionDeployments(ctx, app, v)
		if err != nil {
			return err
		}
		if bindings[v], err = objects.DeployedBindings(deps); err != nil {
			return err
		}
		ports[v] = map[string]int32{}
		for _, b := range bindings[v] {
			ports[v][b.Listener] = b.Port
		}
	}
	if !maps.Equal(ports[st.Live], ports[version]) {
		return fmt.Errorf("version %s serves other listeners or ports (%v) than version %s (%v): a canary needs the same; deploy it without --canary", version, ports[version], st.Live, ports[st.Live])
	}
	for v, bs := range bindings {
		for _, s := range objects.CanaryBackends(app, c.Namespace, v, bs) {
			if _, err := c.Client.CoreV1().Services(c.Namespace).Apply(ctx, s, applyOptions); err != nil {
				return fmt.Errorf("apply service %s: %w", *s.Name, explain(err))
			}
		}
	}
	settings := layout.RouterSettings{App: app, Live: st.Live, Canary: version, Share: share, Sticky: sticky, Listeners: ports[version]}
	router := objects.Router(c.Namespace, toolImage, settings)
	if _, err := c.Client.AppsV1().Deployments(c.Namespace).Apply(ctx, router, applyOptions); err != nil {
		return fmt.Errorf("apply deployment %s: %w", *router.Name, explain(err))
	}
	if err := c.waitReady(ctx, routerSelector(app), "the canary router", 1, out); err != nil {
		return err
	}
	// The router reaches both versions before any request goes to it.
	for v, bs := range bindings {
		for _, b := range bs {
			if err := c.waitEndpoints(ctx, layout.CanaryBackend(app, v, b.Listener), b.Pods, "version "+v); err != nil {
				return err
			}
		}
	}
	routed := make([]objects.Binding, 0, len(bindings[version]))
	for _, b := range bindings[version] {
		b.Pods = objects.RouterPods(app)
		routed = append(routed, b)
	}
	if err := c.applyListeners(ctx, app, st.Live, routed); err != nil {
		return err
	}
	if err := c.waitRouted(ctx, app, "the canary router", routed); err != nil {
		return err
	}
	how := "request by request"
	if sticky != "" {
		how = "sticky by " + sticky + ", request by request without it"
	}
	fmt.Fprintf(out, "  canary    %d %% of requests to version %s, the rest to %s, %s\n", share, version, st.Live, how)
	return nil
}

// routerSelector selects app's canary router.
func routerSelector(app string) string {
	return labels.SelectorFromSet(objects.RouterPods(app)).String()
}

// routerGone bounds the wait for a canary router's pods to finish:
// their drain, and the requests they still forward.
const routerGone = (objects.GracePeriod + 10) * time.Second

// removeRouter deletes app's canary router, waits until its pods are
// gone, then deletes the Services it forwarded through: a request that
// reached the router before the listeners switched away still gets its
// reply.
func (c *Cluster) removeRouter(ctx context.Context, app string, out io.Writer) error {
	t := time.Now()
	if _, _, err := c.deleteSelected(ctx, routerSelector(app), canaryKinds[:1]); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, routerGone)
	defer cancel()
	for {
		pods, err := c.Client.CoreV1().Pods(c.Namespace).List(wctx, metav1.ListOptions{LabelSelector: routerSelector(app)})
		if err != nil {
			return fmt.Errorf("list the canary router's pods: %w", explain(err))
		}
		if len(pods.Items) == 0 {
			break
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("the canary router's %d pods are not gone after %s", len(pods.Items), routerGone)
		case <-time.After(pollInterval):
		}
	}
	sel := labels.SelectorFromSet(labels.Set{layout.LabelApp: app, layout.LabelRole: layout.RoleCanaryBackend}).String()
	if _, _, err := c.deleteSelected(ctx, sel, canaryKinds[1:]); err != nil {
		return err
	}
	fmt.Fprintf(out, "  remove    the canary router, once it forwarded what it had (%s)\n", since(t))
	return nil
}

// canaryStats returns what app's canary routers counted, summed, and how
// many routers answered. A router counts from its start: a router pod
// restarted lost its counts.
func (c *Cluster) canaryStats(ctx context.Context, app string, st state) (layout.CanaryStats, int, error) {
	sum := layout.CanaryStats{Live: layout.VersionStats{Version: st.Live}, Canary: layout.VersionStats{Version: st.Canary}}
	pods, err := c.Client.CoreV1().Pods(c.Namespace).List(ctx, metav1.ListOptions{LabelSelector: routerSelector(app)})
	if err != nil {
		return sum, 0, fmt.Errorf("list the canary router's pods: %w", explain(err))
	}
	var running []corev1.Pod
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			running = append(running, p)
		}
	}
	if len(running) == 0 {
		return sum, 0, errors.New("no canary router pod runs")
	}
	counts, failed := fetchAll[layout.CanaryStats](ctx, c, running, layout.RouterStatsPath)
	for _, s := range counts {
		sum.Add(s.value)
	}
	return sum, len(counts), errors.Join(failed...)
}

// canaryState connects and returns the state of app, which must have a
// canary.
func canaryState(ctx context.Context, t Target, app string) (*Cluster, state, error) {
	c, st, err := connectDeployed(ctx, t, app)
	if err != nil {
		return nil, st, err
	}
	if st.Canary == "" {
		return nil, st, fmt.Errorf("%s has no canary in namespace %s (pilotage deploy --canary N starts one)", app, c.Namespace)
	}
	return c, st, nil
}

// Promote makes the canary of app live: the listeners switch to it alone
// at once, the version that was live is retired (pilotage rollback
// returns to it), and the router is removed. A canary whose error ratio
// is higher than the live version's (by more than a point) is not
// promoted, unless force.
func Promote(ctx context.Context, t Target, app string, force bool, out io.Writer) (string, error) {
	c, st, err := canaryState(ctx, t, app)
	if err != nil {
		return "", err
	}
	stats, _, err := c.canaryStats(ctx, app, st)
	switch {
	case err != nil && !force:
		return "", fmt.Errorf("the canary's error ratio is unknown: %w (pilotage promote --force promotes it anyway)", err)
	case err != nil:
		fmt.Fprintf(out, "pilotage: the canary's error ratio is unknown (%v); promoting anyway (--force)\n", err)
	case stats.Canary.Errors > 0 && stats.Canary.ErrorRatio() > stats.Live.ErrorRatio()+promoteSlack && !force:
		return "", fmt.Errorf("%s: not promoted (pilotage promote --force promotes it anyway; pilotage abort ends it)", stats)
	default:
		fmt.Fprintf(out, "pilotage: %s\n", stats)
	}
	canary, err := c.versionDeployments(ctx, app, st.Canary)
	if err != nil {
		return "", err
	}
	bs, err := objects.DeployedBindings(canary)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(out, "pilotage: promoting canary version %s of %s\n", st.Canary, app)
	version := st.Canary
	st.Canary, st.Share = "", 0
	if err := c.switchListeners(ctx, app, version, bs, st, out); err != nil {
		return "", err
	}
	// The router goes before the live version: until its pods are gone,
	// it forwards what reached it before the switch.
	if err := c.removeRouter(ctx, app, out); err != nil {
		return "", err
	}
	return version, c.retireReplaced(ctx, app, st.Live, version, out)
}

// Abort ends the canary of app: the listeners switch back to the live
// version alone at once, and the canary and its router are removed.
func Abort(ctx context.Context, t Target, app string, out io.Writer) (string, error) {
	c, st, err := canaryState(ctx, t, app)
	if err != nil {
		return "", err
	}
	return st.Live, c.abort(ctx, app, st, out)
}

func (c *Cluster) abort(ctx context.Context, app string, st state, out io.Writer) error {
	if stats, _, err := c.canaryStats(ctx, app, st); err != nil {
		fmt.Fprintf(out, "pilotage: the canary's counts are unknown: %v\n", err)
	} else {
		fmt.Fprintf(out, "pilotage: %s\n", stats)
	}
	live, err := c.versionDeployments(ctx, app, st.Live)
	if err != nil {
		return err
	}
	bs, err := objects.DeployedBindings(live)
	if err != nil {
		return err
	}
	canary := st.Canary
	st.Canary, st.Share = "", 0
	if err := c.switchTo(ctx, app, st.Live, bs, st); err != nil {
		return err
	}
	if err := c.waitRouted(ctx, app, "version "+st.Live, bs); err != nil {
		return err
	}
	fmt.Fprintf(out, "  switch    listeners to version %s alone\n", st.Live)
	if err := c.removeRouter(ctx, app, out); err != nil {
		return err
	}
	if err := c.retire(ctx, app, canary); err != nil {
		return err
	}
	if _, err := c.pruneVersions(ctx, app, st.Live, st.Previous); err != nil {
		return err
	}
	fmt.Fprintf(out, "  remove    canary version %s (its pods drain)\n", canary)
	return nil
}
