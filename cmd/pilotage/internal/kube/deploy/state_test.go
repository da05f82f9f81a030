package deploy

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kubetest"
)

// Two commands on one app at once: the second to record its versions is
// refused, and what the first recorded stays.
func TestStateWritesAreConditional(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kube-apiserver")
	}
	kc := kubetest.Start(t)
	c := &Cluster{Client: kc.Clientset(t, kubetest.Admin), Namespace: "default"}
	ctx := context.Background()
	const app = "shop"

	// Two first deploys: one creates the state, the other is refused.
	a, err := c.readState(ctx, app)
	if err != nil {
		t.Fatal(err)
	}
	b := a
	a.Live, b.Live = "v1", "v1b"
	if err := c.writeState(ctx, app, &a); err != nil {
		t.Fatal(err)
	}
	if err := c.writeState(ctx, app, &b); err == nil || !strings.Contains(err.Error(), "another command changed them while this one ran") {
		t.Fatalf("a second first deploy recorded its version: %v", err)
	}

	// Two later commands read the same state; the second write fails.
	x, err := c.readState(ctx, app)
	if err != nil {
		t.Fatal(err)
	}
	y := x
	x.Live, x.Previous = "v2", "v1"
	y.Live, y.Previous = "v3", "v1"
	if err := c.writeState(ctx, app, &x); err != nil {
		t.Fatal(err)
	}
	if err := c.writeState(ctx, app, &y); err == nil {
		t.Fatal("a write from a stale read succeeded")
	}
	// The writer itself may write again: its own write is the current one.
	x.Canary, x.Share = "v4", 10
	if err := c.writeState(ctx, app, &x); err != nil {
		t.Fatalf("a second write of one command: %v", err)
	}
	got, err := c.readState(ctx, app)
	if err != nil {
		t.Fatal(err)
	}
	if got.Live != "v2" || got.Previous != "v1" || got.Canary != "v4" || got.Share != 10 {
		t.Errorf("state %+v, want live v2, previous v1, canary v4 at 10 %%", got)
	}
}

// Apps lists the apps whose state names a live version, and nothing
// else pilotage labelled with an app (a version's config).
func TestApps(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kube-apiserver")
	}
	kc := kubetest.Start(t)
	c := &Cluster{Client: kc.Clientset(t, kubetest.Admin), Namespace: "default"}
	ctx := context.Background()
	for _, st := range []struct{ app, live, canary string }{{"wordcount", "w1", ""}, {"shop", "v2", "v3"}} {
		s, err := c.readState(ctx, st.app)
		if err != nil {
			t.Fatal(err)
		}
		s.Live, s.Canary, s.Share = st.live, st.canary, 10
		if err := c.writeState(ctx, st.app, &s); err != nil {
			t.Fatal(err)
		}
	}
	cfg := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: layout.ConfigMap("shop", "v2"),
		Labels: map[string]string{layout.LabelManagedBy: layout.ManagedBy, layout.LabelApp: "shop", layout.LabelVersion: "v2"}}}
	if _, err := c.Client.CoreV1().ConfigMaps("default").Create(ctx, cfg, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	apps, err := c.Apps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 2 || apps[0].App != "shop" || apps[0].Live != "v2" || apps[0].Canary != "v3" || apps[0].Share != 10 ||
		apps[1].App != "wordcount" || apps[1].Live != "w1" || apps[0].Since.IsZero() {
		t.Errorf("Apps = %+v, want shop (v2, canary v3 at 10%%) and wordcount (w1)", apps)
	}
}

// A deploy to a namespace that does not exist fails before the build,
// saying so; a user who may not read namespaces is not stopped by the
// check (its first write tells).
func TestCheckNamespace(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kube-apiserver")
	}
	kc := kubetest.Start(t)
	ctx := context.Background()
	admin := kc.Clientset(t, kubetest.Admin)
	if err := (&Cluster{Client: admin, Namespace: "default"}).checkNamespace(ctx); err != nil {
		t.Errorf("default: %v", err)
	}
	err := (&Cluster{Client: admin, Namespace: "nosuch", Host: "https://cluster"}).checkNamespace(ctx)
	if err == nil || !strings.HasPrefix(err.Error(), "namespace nosuch does not exist in https://cluster (create it with kubectl create namespace nosuch") {
		t.Errorf("nosuch: %v", err)
	}
	if err := (&Cluster{Client: kc.Clientset(t, kubetest.Viewer), Namespace: "default"}).checkNamespace(ctx); err != nil {
		t.Errorf("a user who may not read namespaces: %v", err)
	}
}
