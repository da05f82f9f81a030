package deployfs

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/deploy"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kubetest"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// deployed makes the objects "pilotage deploy" leaves for app version v1
// with one group of two components, as the deploy labels them: its
// state, its Deployment (no node runs its pods) and its group's Service.
func deployed(t *testing.T, cs kubernetes.Interface, app string) {
	t.Helper()
	ctx := context.Background()
	ns := "default"
	labels := map[string]string{layout.LabelManagedBy: layout.ManagedBy, layout.LabelApp: app}
	state := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: layout.State(app), Labels: labels}, Data: map[string]string{"live": "v1"}}
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, state, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := map[string]string{layout.LabelApp: app, layout.LabelVersion: "v1", layout.LabelGroup: "cart"}
	settings := layout.Settings{App: app, Version: "v1", Group: "cart", Components: []string{"example.com/shop/cart.Cart"}}
	replicas := int32(2)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: layout.GroupDeployment(app, "v1", "cart"), Labels: pod, Annotations: map[string]string{
			layout.AnnotationReplicas: "2", layout.AnnotationComponents: "example.com/shop/cart.Cart,example.com/shop/cart.Store",
		}},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: pod},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: pod},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: appContainer, Image: "example.com/shop:v1",
					Env: []corev1.EnvVar{{Name: layout.SettingsEnv, Value: settings.Encode()}}}}},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: d.Name, Labels: map[string]string{layout.LabelApp: app, layout.LabelRole: layout.RoleGroup}},
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: pod, Ports: []corev1.ServicePort{{Port: layout.RPCPort}}}}
	if _, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// On a real API server: /apps lists the app deployed (and says where),
// its components and group come from its Deployment, an app that uses no
// coordination store has empty locks, stop scales the group to zero and
// the tree shows it stopped, and a path into an app not deployed is not
// found.
func TestDeployedTree(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kube-apiserver")
	}
	kc := kubetest.Start(t)
	cs := kc.Clientset(t, kubetest.Admin)
	deployed(t, cs, "shop")
	defer func(d time.Duration) { refreshInterval = d }(refreshInterval)
	refreshInterval = 0 // every Stat and List reads the cluster
	f := New(Options{Kubeconfig: kc.Kubeconfig, Namespace: "default"})
	defer f.Close()
	ctx := context.Background()

	apps, err := f.List(ctx, "/apps")
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 1 || apps[0].Name != "shop" || apps[0].Kind != "App" || apps[0].State != "Starting" ||
		!strings.HasPrefix(apps[0].Info, "kube ") || !strings.HasSuffix(apps[0].Info, "/default, version v1") {
		t.Fatalf("ls /apps: %+v", apps)
	}
	comps, err := f.List(ctx, "/apps/shop/components")
	if err != nil {
		t.Fatal(err)
	}
	if len(comps) != 2 || comps[0].Name != "cart.Cart" || comps[0].State != "Starting" || comps[0].Ready != "0/2" || comps[1].Name != "cart.Store" {
		t.Errorf("ls /apps/shop/components: %+v", comps)
	}
	if locks, err := f.List(ctx, "/apps/shop/locks"); err != nil || len(locks) != 0 {
		t.Errorf("ls /apps/shop/locks of an app without a store: %+v, %v", locks, err)
	}
	if _, err := f.Stat(ctx, "/apps/wordcount/components"); !errors.Is(err, tree.ErrNotFound) {
		t.Errorf("stat into an app not deployed: %v, want ErrNotFound", err)
	}
	msg, err := f.Act(ctx, "/apps/shop/components/cart.Store", "stop")
	if err != nil || !strings.Contains(msg, "stopped group cart") {
		t.Fatalf("stop: %q, %v", msg, err)
	}
	g, err := f.Stat(ctx, "/apps/shop/groups/cart")
	if err != nil || g.State != "Stopped" {
		t.Errorf("the group after stop: %+v, %v", g, err)
	}
	if _, err := f.Act(ctx, "/apps/shop/components", "stop"); !errors.Is(err, tree.ErrNotSupported) {
		t.Errorf("stop of a collection: %v, want ErrNotSupported", err)
	}
	c, err := f.Read(ctx, "/apps/shop", tree.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st, ok := c.Value.(*deploy.AppStatus); !ok || st.Live != "v1" || len(st.Groups) != 1 || !st.Groups[0].Stopped {
		t.Errorf("cat /apps/shop: %+v, want the deploy's status of v1, its group stopped", c.Value)
	}
}
