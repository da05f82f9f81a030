package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/image"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/objects"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/supervisor"
	"github.com/pilotage/pilotage/internal/config"
	"github.com/pilotage/pilotage/internal/coordinfo"
	"github.com/pilotage/pilotage/internal/envelope"
)

// coordinationOf returns the coordination store the pods of app (built
// as appBin) use, nil if it does not link the coordination API, and the
// store the deploy runs for it: nil if [coordination] endpoints names
// one of the user's.
func coordinationOf(app, appBin string, cfg *config.File) (*envelope.Coordination, *objects.StoreSpec) {
	if !supervisor.LinksCoord(appBin) {
		return nil, nil
	}
	c := &envelope.Coordination{Prefix: coordinfo.AppPrefix(app), TTL: envelope.Duration(cfg.Coordination.TTL.Duration)}
	if len(cfg.Coordination.Endpoints) > 0 {
		c.Endpoints = cfg.Coordination.Endpoints
		return c, nil
	}
	n, storage, class := cfg.Kube.Store()
	c.Endpoints = layout.StoreEndpoints(app, n)
	return c, &objects.StoreSpec{App: app, Replicas: n, Storage: storage, Class: class}
}

// applyStore applies the store's StatefulSet and Service. A store of
// another size is refused: etcd members are added and removed one by one
// through the cluster itself, which the deploy does not do (yet).
func (c *Cluster) applyStore(ctx context.Context, spec objects.StoreSpec) (int, error) {
	spec.Namespace = c.Namespace
	set, svc, err := objects.Store(spec)
	if err != nil {
		return 0, err
	}
	old, err := c.Client.AppsV1().StatefulSets(c.Namespace).Get(ctx, *set.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return 0, fmt.Errorf("read statefulset %s: %w", *set.Name, explain(err))
	case old.Spec.Replicas != nil && int(*old.Spec.Replicas) != spec.Replicas:
		return 0, fmt.Errorf("the coordination store %s runs %d members; resizing it is not supported: set [kube] etcd_replicas = %d, or pilotage delete %s first (which deletes its data)", *set.Name, *old.Spec.Replicas, *old.Spec.Replicas, spec.App)
	}
	if _, err := c.Client.CoreV1().Services(c.Namespace).Apply(ctx, svc, applyOptions); err != nil {
		return 0, fmt.Errorf("apply service %s: %w", *svc.Name, explain(err))
	}
	if _, err := c.Client.AppsV1().StatefulSets(c.Namespace).Apply(ctx, set, applyOptions); err != nil {
		return 1, fmt.Errorf("apply statefulset %s: %w", *set.Name, explain(err))
	}
	return 2, nil
}

// waitStore waits until every member of app's store is ready on the
// StatefulSet's current template, printing each change to out; it fails
// at once on a pod that cannot start, and at the deadline with each
// member's state.
func (c *Cluster) waitStore(ctx context.Context, app string, members int, out io.Writer) error {
	name := layout.Store(app)
	sel := labels.SelectorFromSet(labels.Set{layout.LabelApp: app, layout.LabelRole: layout.RoleStore}).String()
	last := ""
	for {
		set, err := c.Client.AppsV1().StatefulSets(c.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("read statefulset %s: %w", name, explain(err))
		}
		if set != nil && err == nil {
			st := set.Status
			ready := st.ReadyReplicas
			if st.ObservedGeneration < set.Generation || st.UpdateRevision != st.CurrentRevision {
				ready = min(ready, st.UpdatedReplicas)
			}
			line := fmt.Sprintf("coordination store %s: %d/%d members ready", name, ready, members)
			if line != last {
				fmt.Fprintf(out, "  wait      %s\n", line)
				last = line
			}
			if int(ready) == members && st.UpdateRevision == st.CurrentRevision {
				return nil
			}
		}
		if err := c.checkPods(ctx, sel); err != nil {
			return fmt.Errorf("coordination store: %w", err)
		}
		select {
		case <-ctx.Done():
			return c.storeNotReady(sel, name, context.Cause(ctx))
		case <-time.After(pollInterval):
		}
	}
}

// storeNotReady is the error of a wait for the store that ran out: each
// member's state and latest warning events.
func (c *Cluster) storeNotReady(sel, name string, cause error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var b strings.Builder
	fmt.Fprintf(&b, "the coordination store %s is not ready (%v):", name, cause)
	pods, err := c.Client.CoreV1().Pods(c.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return fmt.Errorf("%s (and its pods cannot be listed: %w)", b.String(), explain(err))
	}
	if len(pods.Items) == 0 {
		b.WriteString("\n  no pod (see kubectl describe statefulset " + name + ")")
	}
	for _, p := range pods.Items {
		fmt.Fprintf(&b, "\n  pod %s: %s", p.Name, podState(&p))
		// A member's volume claim says why it is not bound.
		for _, e := range append(c.warnings(ctx, p.Name), c.warnings(ctx, layout.StoreClaim(p.Name))...) {
			fmt.Fprintf(&b, "\n    %s", e)
		}
	}
	return errors.New(b.String())
}

// pushToolImage pushes the image of the pods that run pilotage itself
// (the store's, a canary router's), of the envelope's layer alone,
// beside the app's (the registry has the layer already), and returns it
// by digest.
func pushToolImage(ctx context.Context, registry, app string, envelope v1.Layer) (string, error) {
	img, err := image.BuildTool(envelope)
	if err != nil {
		return "", err
	}
	digest, err := img.Digest()
	if err != nil {
		return "", fmt.Errorf("image: %w", err)
	}
	return image.Push(ctx, fmt.Sprintf("%s/%s:pilotage-%s", registry, app, digest.Hex[:10]), img, nil)
}

// Coordination returns the coordination store the pods of app's live
// version were given (the one the deploy runs, or [coordination]
// endpoints), read from their settings; nil if the app uses none.
func (c *Cluster) Coordination(ctx context.Context, app string) (*envelope.Coordination, error) {
	st, err := c.deployedState(ctx, app)
	if err != nil {
		return nil, err
	}
	deps, err := c.versionDeployments(ctx, app, st.Live)
	if err != nil {
		return nil, err
	}
	for _, d := range deps {
		for _, ctr := range d.Spec.Template.Spec.Containers {
			for _, e := range ctr.Env {
				if e.Name != layout.SettingsEnv {
					continue
				}
				var s layout.Settings
				if err := json.Unmarshal([]byte(e.Value), &s); err != nil {
					return nil, fmt.Errorf("deployment %s: $%s: %w", d.Name, layout.SettingsEnv, err)
				}
				return s.Coordination, nil
			}
		}
	}
	return nil, fmt.Errorf("%s version %s: no deployment has pod settings ($%s)", app, st.Live, layout.SettingsEnv)
}
