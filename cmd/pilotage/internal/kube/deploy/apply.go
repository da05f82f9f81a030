package deploy

import (
	"context"
	"fmt"

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

// applyVersion applies the objects of one version; it returns how many.
func (c *Cluster) applyVersion(ctx context.Context, set *objects.Set) (int, error) {
	n := 0
	if cm := set.ConfigMap; cm != nil {
		if _, err := c.Client.CoreV1().ConfigMaps(c.Namespace).Apply(ctx, cm, applyOptions); err != nil {
			return n, fmt.Errorf("apply configmap %s: %w", *cm.Name, explain(err))
		}
		n++
	}
	for _, s := range set.Services {
		if _, err := c.Client.CoreV1().Services(c.Namespace).Apply(ctx, s, applyOptions); err != nil {
			return n, fmt.Errorf("apply service %s: %w", *s.Name, explain(err))
		}
		n++
	}
	for _, d := range set.Deployments {
		if _, err := c.Client.AppsV1().Deployments(c.Namespace).Apply(ctx, d, applyOptions); err != nil {
			return n, fmt.Errorf("apply deployment %s: %w", *d.Name, explain(err))
		}
		n++
	}
	return n, nil
}
