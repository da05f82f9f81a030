package kubetest

import (
	"context"
	"fmt"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// viewerRole is the Role, and RoleBinding, that lets Viewer read pods.
const viewerRole = "kubetest-viewer"

// grantViewer lets Viewer get, list and watch pods in "default", and waits
// until the API server's authorizer, which learns of RBAC objects through
// a watch, allows it.
func (c *Cluster) grantViewer(ctx context.Context) error {
	admin, err := kubernetes.NewForConfig(c.configs[Admin])
	if err != nil {
		return fmt.Errorf("admin clientset: %w", err)
	}
	viewer, err := kubernetes.NewForConfig(c.configs[Viewer])
	if err != nil {
		return fmt.Errorf("viewer clientset: %w", err)
	}
	// The apiserver creates "default" shortly after it is ready.
	if err := poll(ctx, func() error {
		_, err := admin.CoreV1().Namespaces().Get(ctx, corev1.NamespaceDefault, metav1.GetOptions{})
		return err
	}); err != nil {
		return fmt.Errorf("wait for namespace default: %w", err)
	}
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: viewerRole, Namespace: corev1.NamespaceDefault},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{""},
			Resources: []string{"pods"},
			Verbs:     []string{"get", "list", "watch"},
		}},
	}
	if _, err := admin.RbacV1().Roles(role.Namespace).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create role %s: %w", role.Name, err)
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: viewerRole, Namespace: corev1.NamespaceDefault},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: viewerRole},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: Viewer}},
	}
	if _, err := admin.RbacV1().RoleBindings(binding.Namespace).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create rolebinding %s: %w", binding.Name, err)
	}
	review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: corev1.NamespaceDefault, Verb: "list", Resource: "pods"},
	}}
	if err := poll(ctx, func() error {
		r, err := viewer.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		if !r.Status.Allowed {
			return fmt.Errorf("not allowed yet: %s", r.Status.Reason)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("wait for viewer to be allowed to list pods: %w", err)
	}
	return nil
}

// poll calls f every 50ms until it returns nil or ctx ends; the error is
// f's last one.
func poll(ctx context.Context, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(50 * time.Millisecond):
		}
	}
}
