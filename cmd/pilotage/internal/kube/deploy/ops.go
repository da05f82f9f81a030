package deploy

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/objects"
)

// scaleManager is the field manager of the replica counts that rollback,
// stop and start set; the next deploy's apply takes them back.
const scaleManager = "pilotage-scale"

// versionDeployments returns the group Deployments of one version of app.
func (c *Cluster) versionDeployments(ctx context.Context, app, version string) ([]appsv1.Deployment, error) {
	deps, err := c.Client.AppsV1().Deployments(c.Namespace).List(ctx, metav1.ListOptions{LabelSelector: versionSelector(app, version)})
	if err != nil {
		return nil, fmt.Errorf("list deployments of version %s: %w", version, explain(err))
	}
	return deps.Items, nil
}

// configuredReplicas is the replica count d runs with while serving.
func configuredReplicas(d *appsv1.Deployment) (int32, error) {
	n, err := strconv.Atoi(d.Annotations[layout.AnnotationReplicas])
	if err != nil || n < 0 {
		return 0, fmt.Errorf("deployment %s: annotation %s = %q: not a replica count", d.Name, layout.AnnotationReplicas, d.Annotations[layout.AnnotationReplicas])
	}
	return int32(n), nil
}

// patch merges a JSON patch into Deployment name.
func (c *Cluster) patch(ctx context.Context, name, patch string) error {
	_, err := c.Client.AppsV1().Deployments(c.Namespace).Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: scaleManager})
	if err != nil {
		return fmt.Errorf("update deployment %s: %w", name, explain(err))
	}
	return nil
}

func (c *Cluster) scale(ctx context.Context, name string, replicas int32) error {
	return c.patch(ctx, name, fmt.Sprintf(`{"spec":{"replicas":%d}}`, replicas))
}

// retire scales every Deployment of version to zero: its pods drain and
// stop, and its objects stay for a rollback.
func (c *Cluster) retire(ctx context.Context, app, version string) error {
	deps, err := c.versionDeployments(ctx, app, version)
	if err != nil {
		return err
	}
	for _, d := range deps {
		if err := c.scale(ctx, d.Name, 0); err != nil {
			return err
		}
	}
	return nil
}

// Rollback aborts the canary of app if it has one; else it makes the
// version that was live before the live one live again, blue/green as
// a deploy does: its groups are scaled back up beside the live
// version's, and once all are ready the listeners switch to them at
// once and the live version is retired (it becomes the one a second
// rollback returns to). It returns the version now live.
func Rollback(ctx context.Context, t Target, app string, timeout time.Duration, out io.Writer) (string, error) {
	c, st, err := connectDeployed(ctx, t, app)
	if err != nil {
		return "", err
	}
	if st.Canary != "" {
		fmt.Fprintf(out, "pilotage: aborting canary version %s of %s\n", st.Canary, app)
		return st.Live, c.abort(ctx, app, st, out)
	}
	if st.Previous == "" {
		return "", fmt.Errorf("%s has no version before %s to roll back to", app, st.Live)
	}
	deps, err := c.versionDeployments(ctx, app, st.Previous)
	if err != nil {
		return "", err
	}
	if len(deps) == 0 {
		return "", fmt.Errorf("version %s of %s, live before %s, is gone from namespace %s: deploy it again instead", st.Previous, app, st.Live, c.Namespace)
	}
	fmt.Fprintf(out, "pilotage: rolling %s back from version %s to %s\n", app, st.Live, st.Previous)
	if err := c.restoreReplicas(ctx, deps); err != nil {
		return "", err
	}
	wctx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("not ready within %s", timeout))
	defer cancel()
	if err := c.waitReady(wctx, versionSelector(app, st.Previous), "version "+st.Previous, len(deps), out); err != nil {
		return "", fmt.Errorf("%w\n(version %s stays live)", err, st.Live)
	}
	bs, err := objects.DeployedBindings(deps)
	if err != nil {
		return "", err
	}
	return st.Previous, c.switchAndRetire(ctx, app, st.Previous, bs, st, out)
}

// A GroupAction is what Act does to the group of a component.
type GroupAction string

const (
	Stop    GroupAction = "stop"    // scale it to zero
	Start   GroupAction = "start"   // scale it back to its replicas
	Restart GroupAction = "restart" // replace its pods, one at a time
)

// Act stops, starts or restarts the group that runs component (a full
// name, or its last elements: "cart.Cart") in the live version of app,
// and waits until it is done. Only that group changes: its callers stay
// ready, and their calls to it fail fast while it is stopped.
func Act(ctx context.Context, t Target, app, component string, action GroupAction, out io.Writer) (string, error) {
	c, err := Connect(t)
	if err != nil {
		return "", err
	}
	return c.Act(ctx, app, component, action, out)
}

// Act is the function Act, on the cluster's namespace.
func (c *Cluster) Act(ctx context.Context, app, component string, action GroupAction, out io.Writer) (string, error) {
	st, err := c.deployedState(ctx, app)
	if err != nil {
		return "", err
	}
	deps, err := c.versionDeployments(ctx, app, st.Live)
	if err != nil {
		return "", err
	}
	d, err := groupOf(deps, component)
	if err != nil {
		return "", fmt.Errorf("%s version %s: %w", app, st.Live, err)
	}
	group := d.Labels[layout.LabelGroup]
	sel := labels.SelectorFromSet(d.Spec.Selector.MatchLabels).String()
	switch action {
	case Stop:
		// Marked first, so that callers fail fast as its pods go.
		if err := c.markStopped(ctx, d.Name, true); err != nil {
			return "", err
		}
		if err := c.scale(ctx, d.Name, 0); err != nil {
			return "", err
		}
		if err := c.waitGone(ctx, sel); err != nil {
			return "", err
		}
		return fmt.Sprintf("stopped group %s (%s): 0 replicas", group, components(d)), nil
	case Start, Restart:
		if st.Canary != "" {
			return "", fmt.Errorf("version %s of %s is a canary, sized by pods: end it first (pilotage promote or abort)", st.Canary, app)
		}
		n, err := configuredReplicas(d)
		if err != nil {
			return "", err
		}
		patch := fmt.Sprintf(`{"spec":{"replicas":%d}}`, n)
		if action == Restart {
			if *d.Spec.Replicas == 0 {
				return "", fmt.Errorf("group %s (%s) is stopped: start it", group, components(d))
			}
			n = *d.Spec.Replicas
			patch = fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`, layout.AnnotationRestartedAt, time.Now().UTC().Format(time.RFC3339Nano))
		}
		// Unmarked first: callers wait for its replicas, as for a
		// restart.
		if err := c.markStopped(ctx, d.Name, false); err != nil {
			return "", err
		}
		if err := c.patch(ctx, d.Name, patch); err != nil {
			return "", err
		}
		if err := c.waitReady(ctx, sel, "group "+group, 1, out); err != nil {
			return "", err
		}
		verb := map[GroupAction]string{Start: "started", Restart: "restarted"}[action]
		return fmt.Sprintf("%s group %s (%s): %d/%d replicas ready", verb, group, components(d), n, n), nil
	}
	return "", fmt.Errorf("unknown action %q", action)
}

// markStopped sets or clears LabelStopped on the group's headless
// Service (named as its Deployment).
func (c *Cluster) markStopped(ctx context.Context, svc string, stopped bool) error {
	patch := fmt.Sprintf(`{"metadata":{"labels":{%q:"%t"}}}`, layout.LabelStopped, stopped)
	if _, err := c.Client.CoreV1().Services(c.Namespace).Patch(ctx, svc, types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: scaleManager}); err != nil {
		return fmt.Errorf("mark service %s: %w", svc, explain(err))
	}
	return nil
}

// groupOf returns the Deployment among deps that runs component.
func groupOf(deps []appsv1.Deployment, component string) (*appsv1.Deployment, error) {
	var all []string
	for i, d := range deps {
		for _, full := range strings.Split(d.Annotations[layout.AnnotationComponents], ",") {
			all = append(all, full)
			if matches(full, component) {
				return &deps[i], nil
			}
		}
	}
	slices.Sort(all)
	return nil, fmt.Errorf("no component %s (components: %s)", component, strings.Join(all, ", "))
}

func components(d *appsv1.Deployment) string {
	return strings.ReplaceAll(d.Annotations[layout.AnnotationComponents], ",", ", ")
}

// waitGone waits until no pod sel selects is left.
func (c *Cluster) waitGone(ctx context.Context, sel string) error {
	for {
		pods, err := c.Client.CoreV1().Pods(c.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return fmt.Errorf("list pods: %w", explain(err))
		}
		if len(pods.Items) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d pods still stopping: %w", len(pods.Items), context.Cause(ctx))
		case <-time.After(pollInterval):
		}
	}
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
