package deploy

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/objects"
)

// A canary shares a listener's traffic between two versions the way a
// Kubernetes Service does: by pods. The listener Services select the
// listener groups' pods of both versions, and those groups are scaled so
// that the canary's pods are the share asked for: 10 % is 9 pods of the
// live version beside 1 of the canary. kube-proxy picks a pod per
// connection, so the share holds per connection (per request for
// clients that do not keep connections open); it is not sticky. Only
// the listener groups change size; every other group keeps its replicas,
// and calls behind a listener stay within their version.

// Canary shares are bounded: below MinShare the live version would need
// too many pods; above MaxShare, promote instead.
const (
	MinShare = 2
	MaxShare = 50
)

// canaryPods returns how many listener pods the live version (live) and
// the canary (canary) run for share percent: the canary's as few as
// give the share, and never fewer live ones than the live version's
// configured replicas.
func canaryPods(share int, liveReplicas int32) (live, canary int32) {
	for canary = 1; ; canary++ {
		live = int32(math.Round(float64(canary) * float64(100-share) / float64(share)))
		if live >= max(liveReplicas, 1) {
			return live, canary
		}
	}
}

// listenerGroups returns the Deployments among deps that serve a
// listener, by group.
func listenerGroups(deps []appsv1.Deployment) map[string]*appsv1.Deployment {
	out := map[string]*appsv1.Deployment{}
	for i, d := range deps {
		if d.Annotations[layout.AnnotationListeners] != "" {
			out[d.Labels[layout.LabelGroup]] = &deps[i]
		}
	}
	return out
}

// startCanary makes version (ready) the canary of the live version with
// share percent of the listeners' traffic.
func (c *Cluster) startCanary(ctx context.Context, app, version string, share int, st state, out io.Writer) error {
	// Recorded first: if a step below fails, abort finds it and undoes
	// them all.
	st.Canary, st.Share = version, share
	if err := c.writeState(ctx, app, &st); err != nil {
		return err
	}
	live, err := c.versionDeployments(ctx, app, st.Live)
	if err != nil {
		return err
	}
	canary, err := c.versionDeployments(ctx, app, version)
	if err != nil {
		return err
	}
	liveGroups, canaryGroups := listenerGroups(live), listenerGroups(canary)
	if !maps.EqualFunc(liveGroups, canaryGroups, func(a, b *appsv1.Deployment) bool {
		return a.Annotations[layout.AnnotationListeners] == b.Annotations[layout.AnnotationListeners]
	}) {
		return fmt.Errorf("version %s serves its listeners from other groups or ports than version %s: a canary needs the same; deploy it without --canary", version, st.Live)
	}
	for g, ld := range liveGroups {
		n, err := configuredReplicas(ld)
		if err != nil {
			return err
		}
		l, k := canaryPods(share, n)
		if err := c.scale(ctx, ld.Name, l); err != nil {
			return err
		}
		if err := c.scale(ctx, canaryGroups[g].Name, k); err != nil {
			return err
		}
		fmt.Fprintf(out, "  canary    group %s: %d pods of version %s beside %d of %s (%.1f %%)\n", g, k, version, l, st.Live, 100*float64(k)/float64(k+l))
	}
	for v, groups := range map[string]int{st.Live: len(live), version: len(canary)} {
		if err := c.waitReady(ctx, versionSelector(app, v), "version "+v, groups, out); err != nil {
			return err
		}
	}
	bs, err := objects.DeployedBindings(live)
	if err != nil {
		return err
	}
	for i := range bs { // both versions' pods
		bs[i].Pods = maps.Clone(bs[i].Pods)
		delete(bs[i].Pods, layout.LabelVersion)
	}
	if err := c.applyListeners(ctx, app, st.Live, bs); err != nil {
		return err
	}
	return c.waitRouted(ctx, app, st.Live+" and "+version, bs)
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

// Promote makes the canary of app live: its listener groups are scaled
// to their replicas, the listeners switch to it alone at once, and the
// version that was live is retired (pilotage rollback returns to it).
func Promote(ctx context.Context, t Target, app string, timeout time.Duration, out io.Writer) (string, error) {
	c, st, err := canaryState(ctx, t, app)
	if err != nil {
		return "", err
	}
	canary, err := c.versionDeployments(ctx, app, st.Canary)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(out, "pilotage: promoting canary version %s of %s\n", st.Canary, app)
	if err := c.restoreReplicas(ctx, canary); err != nil {
		return "", err
	}
	wctx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("not ready within %s", timeout))
	defer cancel()
	if err := c.waitReady(wctx, versionSelector(app, st.Canary), "version "+st.Canary, len(canary), out); err != nil {
		return "", err
	}
	bs, err := objects.DeployedBindings(canary)
	if err != nil {
		return "", err
	}
	version := st.Canary
	st.Canary, st.Share = "", 0
	return version, c.switchAndRetire(ctx, app, version, bs, st, out)
}

// Abort ends the canary of app: the listeners switch back to the live
// version alone at once, its listener groups return to their replicas,
// and the canary is removed.
func Abort(ctx context.Context, t Target, app string, out io.Writer) (string, error) {
	c, st, err := canaryState(ctx, t, app)
	if err != nil {
		return "", err
	}
	return st.Live, c.abort(ctx, app, st, out)
}

func (c *Cluster) abort(ctx context.Context, app string, st state, out io.Writer) error {
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
	if err := c.waitRouted(ctx, app, st.Live, bs); err != nil {
		return err
	}
	fmt.Fprintf(out, "  switch    listeners to version %s alone\n", st.Live)
	var resized []appsv1.Deployment
	for _, d := range listenerGroups(live) {
		resized = append(resized, *d)
	}
	if err := c.restoreReplicas(ctx, resized); err != nil {
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

// restoreReplicas scales each of deps to its configured replicas; a
// stopped one is started.
func (c *Cluster) restoreReplicas(ctx context.Context, deps []appsv1.Deployment) error {
	for _, d := range deps {
		n, err := configuredReplicas(&d)
		if err != nil {
			return err
		}
		if err := c.markStopped(ctx, d.Name, false); err != nil {
			return err
		}
		if err := c.scale(ctx, d.Name, n); err != nil {
			return err
		}
	}
	return nil
}
