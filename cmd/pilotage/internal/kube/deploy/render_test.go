package deploy

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	commonutil "helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	"sigs.k8s.io/yaml"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/objects"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/supervisor"
	"github.com/pilotage/pilotage/internal/config"
	"github.com/pilotage/pilotage/internal/envelope"
	"github.com/pilotage/pilotage/internal/graph"
)

// The chart "pilotage deploy --render" writes, rendered by Helm's own
// engine into a namespace, holds exactly the objects a deploy to that
// namespace applies; its values change the image and a group's replicas.
func TestRenderIsWhatDeployApplies(t *testing.T) {
	const (
		app     = "shop"
		version = "0123456789"
		image   = "registry.example/shop@sha256:abcd"
		cfgText = "[app]\nname = \"shop\"\n# {{ not a template }}\n[listeners.web]\naddress = \":8080\"\n[run]\nreplicas = 3\n[kube]\ncpu = \"250m\"\nmemory = \"128Mi\"\n[kube.autoscale.\"cart.Cart\"]\nmax = 6\n"
	)
	cfg, err := config.Parse("pilotage.toml", cfgText)
	if err != nil {
		t.Fatal(err)
	}
	g := &graph.Graph{Components: []graph.Component{
		{Name: "github.com/pilotage/pilotage.Main", Refs: []string{"example.com/shop/cart.Cart"}, Listeners: []string{"web"}, Main: true},
		{Name: "example.com/shop/cart.Cart", Refs: []string{}, Listeners: []string{}},
	}}
	plan, err := supervisor.NewPlan(app, g, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// An app that coordinates, with the store the deploy runs for it.
	coordination := &envelope.Coordination{Endpoints: layout.StoreEndpoints(app, 3), Prefix: "/pilotage/shop/"}
	store := &objects.StoreSpec{App: app, Image: "registry.example/shop@sha256:ef01", Replicas: 3, Storage: "1Gi"}
	v := objects.Version{App: app, Namespace: "ns1", Version: version, Image: image, Plan: plan, Config: cfgText, Coordination: coordination, Kube: cfg.Kube, Telemetry: cfg.Telemetry}
	dir, err := render(t.TempDir(), v, store)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := loader.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	renderChart := func(values map[string]any) map[string]map[string]any {
		vals, err := commonutil.ToRenderValues(ch, values, common.ReleaseOptions{Name: app, Namespace: "ns1", IsInstall: true}, common.DefaultCapabilities)
		if err != nil {
			t.Fatal(err)
		}
		files, err := engine.Render(ch, vals)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]map[string]any{}
		for _, text := range files {
			for _, doc := range strings.Split(text, "\n---\n") {
				var m map[string]any
				if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
					t.Fatalf("rendered %q: %v", doc, err)
				}
				if m != nil {
					out[key(m)] = m
				}
			}
		}
		return out
	}

	applied, err := versionObjects(v, store)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]any{}
	for _, o := range applied {
		b, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		want[key(m)] = m
	}
	dep := want["Deployment/shop-0123456789-cart-cart"]
	res, _ := json.Marshal(dep["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["resources"])
	if string(res) != `{"limits":{"memory":"128Mi"},"requests":{"cpu":"250m","memory":"128Mi"}}` {
		t.Errorf("cart's container resources: %s", res)
	}
	got := renderChart(nil)
	for _, k := range []string{"StatefulSet/shop-etcd", "HorizontalPodAutoscaler/shop-0123456789-cart-cart"} {
		if _, ok := want[k]; !ok {
			t.Errorf("the deploy applies no %s: %v", k, slices.Sorted(maps.Keys(want)))
		}
	}
	if !slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want))) {
		t.Fatalf("the chart renders %v\nthe deploy applies %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}
	for k, w := range want {
		if !reflect.DeepEqual(roundTrip(t, got[k]), roundTrip(t, w)) {
			g, _ := yaml.Marshal(got[k])
			wy, _ := yaml.Marshal(w)
			t.Errorf("%s: the chart renders\n%s\nthe deploy applies\n%s", k, g, wy)
		}
	}

	// Values: another image, and one group's replicas.
	got = renderChart(map[string]any{"image": "other/shop:2", "replicas": map[string]any{"cart-cart": 5}})
	for k, m := range got {
		if !strings.HasPrefix(k, "Deployment/") {
			continue
		}
		spec := m["spec"].(map[string]any)
		containers := spec["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)
		if img := containers[0].(map[string]any)["image"]; img != "other/shop:2" {
			t.Errorf("%s: image %v with values.image other/shop:2", k, img)
		}
		want := 3.0
		if strings.HasSuffix(k, "-cart-cart") {
			want = 5
		}
		if r := spec["replicas"]; r != want {
			t.Errorf("%s: replicas %v, want %v", k, r, want)
		}
	}
}

func key(m map[string]any) string {
	return m["kind"].(string) + "/" + m["metadata"].(map[string]any)["name"].(string)
}

// roundTrip normalizes m as JSON does (numbers as float64).
func roundTrip(t *testing.T, m map[string]any) map[string]any {
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
