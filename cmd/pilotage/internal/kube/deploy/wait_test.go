package deploy

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
)

// waitReady ends when the last Deployment becomes ready, seen through a
// watch, or by polling when the user may not watch; and says what is not
// ready at its deadline.
func TestWaitReady(t *testing.T) {
	for _, mayWatch := range []bool{true, false} {
		name := map[bool]string{true: "watch", false: "poll"}[mayWatch]
		t.Run(name, func(t *testing.T) {
			cs := fake.NewClientset()
			if !mayWatch {
				cs.PrependWatchReactor("deployments", func(k8stesting.Action) (bool, watch.Interface, error) {
					return true, nil, errors.New(`deployments.apps is forbidden: User "dev" cannot watch resource "deployments"`)
				})
			}
			c := &Cluster{Client: cs, Namespace: "default"}
			ctx := context.Background()
			deps := cs.AppsV1().Deployments("default")
			for _, g := range []string{"a", "b"} {
				if _, err := deps.Create(ctx, group(g, 0), metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			sel := versionSelector("shop", "v1")

			// At the deadline: what is not ready.
			short, cancel := context.WithTimeoutCause(ctx, 300*time.Millisecond, errors.New("not ready within 300ms"))
			defer cancel()
			var out strings.Builder
			err := c.waitReady(short, sel, "version v1", 2, &out)
			if err == nil || !strings.Contains(err.Error(), "group a: 0/2 ready") || !strings.Contains(err.Error(), "not ready within 300ms") {
				t.Fatalf("waitReady at its deadline: %v", err)
			}

			done := make(chan error, 1)
			out.Reset()
			go func() { done <- c.waitReady(ctx, sel, "version v1", 2, &out) }()
			for _, g := range []string{"a", "b"} {
				time.Sleep(50 * time.Millisecond)
				if _, err := deps.UpdateStatus(ctx, group(g, 2), metav1.UpdateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("waitReady did not see both groups ready")
			}
			if !strings.Contains(out.String(), "2/2 groups ready: a 2/2, b 2/2") {
				t.Errorf("progress:\n%s", out.String())
			}
		})
	}
}

// group returns Deployment g of version v1 of the shop with 2 replicas,
// ready of them.
func group(g string, ready int32) *appsv1.Deployment {
	two := int32(2)
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{Kind: "Deployment", APIVersion: "apps/v1"},
		ObjectMeta: metav1.ObjectMeta{Name: "shop-" + g, Namespace: "default", Labels: map[string]string{layout.LabelApp: "shop", layout.LabelVersion: "v1", layout.LabelGroup: g}},
		Spec:       appsv1.DeploymentSpec{Replicas: &two},
		Status:     appsv1.DeploymentStatus{Replicas: 2, ReadyReplicas: ready, UpdatedReplicas: ready},
	}
}
