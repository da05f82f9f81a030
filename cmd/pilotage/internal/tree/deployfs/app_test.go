package deployfs

import (
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/deploy"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
)

func pod(name, group string, running, ready bool, restarts int32) corev1.Pod {
	p := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{layout.LabelGroup: group}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: appContainer}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending, PodIP: "10.0.0.9",
			ContainerStatuses: []corev1.ContainerStatus{{Name: appContainer, Ready: ready, RestartCount: restarts}}},
	}
	if running {
		p.Status.Phase = corev1.PodRunning
		p.Status.ContainerStatuses[0].State.Running = &corev1.ContainerStateRunning{}
		p.Status.StartTime = &metav1.Time{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	}
	return p
}

// A deployed app's objects become the resources a supervisor would show:
// components by short name with their group's pods as replicas, groups,
// listeners, and the collections of the coordination store; only the
// live version's.
func TestKubeResources(t *testing.T) {
	d := deploy.Deployed{App: "shop", Live: "v2", Since: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	st := &deploy.AppStatus{
		Groups: []deploy.GroupStatus{
			{Version: "v2", Group: "main", Ready: 1, Replicas: 1, Components: []string{"example.com/shop/pilotage.Main"}},
			{Version: "v2", Group: "cart", Ready: 1, Replicas: 2, Components: []string{"example.com/shop/cart.Cart", "example.com/shop/cart.Store"}},
			{Version: "v1", Group: "cart", Ready: 0, Replicas: 0, Components: []string{"example.com/shop/cart.Cart"}},
		},
		Listeners: []deploy.ListenStatus{{Listener: "web", Service: "shop-web", Port: 8080}},
	}
	pods := []corev1.Pod{pod("shop-v2-cart-b", "cart", false, false, 0), pod("shop-v2-cart-a", "cart", true, true, 3), pod("shop-v2-main-a", "main", true, true, 0)}
	res, err := kubeResources(d, st, pods)
	if err != nil {
		t.Fatal(err)
	}
	s := newSnapshot(res)
	var names []string
	for _, n := range s.children("/apps/shop", nil) {
		names = append(names, n.Name)
	}
	if want := []string{"components", "config", "groups", "leaders", "listeners", "locks"}; !slices.Equal(names, want) {
		t.Errorf("/apps/shop holds %v, want %v", names, want)
	}
	comps := s.children("/apps/shop", []string{api.Components})
	names = nil
	for _, n := range comps {
		names = append(names, n.Name)
	}
	if want := []string{"cart.Cart", "cart.Store", "pilotage.Main"}; !slices.Equal(names, want) {
		t.Fatalf("components %v, want %v", names, want)
	}
	cart := comps[0]
	if cart.Kind != "Component" || cart.State != "Degraded" || cart.Ready != "1/2" || cart.Restarts != 3 || !cart.Dir || cart.Callable ||
		!slices.Equal(cart.Actions, []string{"stop", "start", "restart"}) || cart.Path != "/apps/shop/components/cart.Cart" {
		t.Errorf("cart.Cart: %+v", cart)
	}
	if n, ok := s.node("/apps/shop", []string{api.Components, "cart.Cart", api.Replicas}); !ok || !n.Dir || n.Kind != "Collection" {
		t.Errorf("cart.Cart's replicas: %+v, %v; want a directory", n, ok)
	}
	reps := s.children("/apps/shop", []string{api.Components, "cart.Cart", api.Replicas})
	if len(reps) != 2 {
		t.Fatalf("cart.Cart's replicas: %+v", reps)
	}
	a, b := reps[0], reps[1]
	if a.Name != "shop-v2-cart-a" || a.Kind != "Replica" || a.State != "Ready" || a.Restarts != 3 || !a.Exec || !a.Logs ||
		a.Path != "/apps/shop/components/cart.Cart/replicas/shop-v2-cart-a" {
		t.Errorf("replica a: %+v", a)
	}
	if b.State != "Starting" || b.Info == "" {
		t.Errorf("replica b, pending: %+v", b)
	}
	groups := s.children("/apps/shop", []string{api.Groups})
	if len(groups) != 2 || groups[0].Name != "cart" || groups[0].Ready != "1/2" || !groups[0].Logs {
		t.Errorf("groups (of the live version only): %+v", groups)
	}
	if l, ok := s.node("/apps/shop", []string{api.Listeners, "web"}); !ok || l.Info != "shop-web:8080" {
		t.Errorf("listener web: %+v, %v", l, ok)
	}
	app := appNode(&deploy.Cluster{Context: "test", Namespace: "ns"}, d, s.res[""])
	if app.State != "Degraded" || app.Info != "kube test/ns, version v2" || !app.Created.Equal(d.Since) || app.Path != "/apps/shop" {
		t.Errorf("app: %+v", app)
	}
}

func TestStates(t *testing.T) {
	for _, tc := range []struct {
		g    deploy.GroupStatus
		want api.State
	}{
		{deploy.GroupStatus{Replicas: 2, Ready: 2}, api.Ready},
		{deploy.GroupStatus{Replicas: 2, Ready: 1}, api.Degraded},
		{deploy.GroupStatus{Replicas: 2}, api.Starting},
		{deploy.GroupStatus{Replicas: 0, Stopped: true}, api.Stopped},
	} {
		if got, _ := groupState(tc.g); got != tc.want {
			t.Errorf("groupState(%+v) = %s, want %s", tc.g, got, tc.want)
		}
	}
	for _, tc := range []struct {
		states []api.State
		want   api.State
	}{
		{[]api.State{api.Ready, api.Stopped}, api.Ready},
		{[]api.State{api.Ready, api.Starting}, api.Degraded},
		{[]api.State{api.Starting}, api.Starting},
	} {
		if got := appState(tc.states); got != tc.want {
			t.Errorf("appState(%v) = %s, want %s", tc.states, got, tc.want)
		}
	}
}
