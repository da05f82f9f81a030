package deploy

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/objects"
)

// applyOptions: server-side apply under pilotage's field manager, taking
// over fields another manager set (the deploy owns these objects).
var applyOptions = metav1.ApplyOptions{FieldManager: layout.FieldManager, Force: true}

// applyAccess applies the app's ServiceAccount, Role and RoleBinding.
func (c *Cluster) applyAccess(ctx context.Context, app string) (int, error) {
	sa, role, binding := objects.Access(app, c.Namespace)
	if _, err := c.Client.CoreV1().ServiceAccounts(c.Namespace).Apply(ctx, sa, applyOptions); err != nil {
		return 0, fmt.Errorf("apply serviceaccount %s: %w", *sa.Name, explain(err))
	}
	if _, err := c.Client.RbacV1().Roles(c.Namespace).Apply(ctx, role, applyOptions); err != nil {
		return 1, fmt.Errorf("apply role %s: %w", *role.Name, explain(err))
	}
	if _, err := c.Client.RbacV1().RoleBindings(c.Namespace).Apply(ctx, binding, applyOptions); err != nil {
		return 2, fmt.Errorf("apply rolebinding %s: %w", *binding.Name, explain(err))
	}
	return 3, nil
}

// What of a version applyVersion applies.
const (
	versionConfig    = iota // its ConfigMap and Services: what does not run its image
	versionWorkloads        // its Deployments and autoscalers
)

// applyVersion applies the objects of one part of a version, all at once;
// it returns how many.
func (c *Cluster) applyVersion(ctx context.Context, set *objects.Set, part int) (int, error) {
	g, ctx := errgroup.WithContext(ctx)
	apply := func(kind, name string, f func() error) {
		g.Go(func() error {
			if err := f(); err != nil {
				return fmt.Errorf("apply %s %s: %w", kind, name, explain(err))
			}
			return nil
		})
	}
	n := 0
	switch part {
	case versionConfig:
		if cm := set.ConfigMap; cm != nil {
			apply("configmap", *cm.Name, func() error {
				_, err := c.Client.CoreV1().ConfigMaps(c.Namespace).Apply(ctx, cm, applyOptions)
				return err
			})
			n++
		}
		for _, s := range set.Services {
			apply("service", *s.Name, func() error {
				_, err := c.Client.CoreV1().Services(c.Namespace).Apply(ctx, s, applyOptions)
				return err
			})
			n++
		}
	case versionWorkloads:
		for _, d := range set.Deployments {
			apply("deployment", *d.Name, func() error {
				_, err := c.Client.AppsV1().Deployments(c.Namespace).Apply(ctx, d, applyOptions)
				return err
			})
			n++
		}
		for _, a := range set.Autoscalers {
			apply("horizontalpodautoscaler", *a.Name, func() error {
				_, err := c.Client.AutoscalingV2().HorizontalPodAutoscalers(c.Namespace).Apply(ctx, a, applyOptions)
				return err
			})
			n++
		}
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	return n, nil
}
