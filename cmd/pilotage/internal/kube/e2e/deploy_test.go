package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/telemetry/telemetrytest"
)

const (
	shopDir    = "../../../../../examples/shop"
	loadappDir = "../../../../../internal/testapp/loadapp"
)

// The example shop, deployed as a user deploys it (pilotage deploy
// examples/shop, its own pilotage.toml): every group runs the
// real binary in its own pods, an order placed through the listener's
// Service is priced by catalog, cart, shipping and payment in other pods,
// and delete removes every object the deploy made.
func TestDeployShop(t *testing.T) {
	e := newEnv(t)
	// Its own pilotage.toml: the listener's host (127.0.0.1 for "pilotage
	// run") is ignored in a pod, which listens on all its addresses.
	version := e.deploy(shopDir, "")
	deps, err := e.cs.AppsV1().Deployments(e.ns).List(context.Background(), metav1.ListOptions{LabelSelector: layout.LabelApp + "=shop"})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range deps.Items {
		if d.Status.ReadyReplicas == 0 || d.Status.ReadyReplicas != *d.Spec.Replicas || d.Labels[layout.LabelVersion] != version {
			t.Errorf("deployment %s: %d of %d ready, version %q; want all of version %s", d.Name, d.Status.ReadyReplicas, *d.Spec.Replicas, d.Labels[layout.LabelVersion], version)
		}
	}
	status, _, err := e.pilotage("status", "--namespace", e.ns, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(status, version+" "); !strings.Contains(status, "live version "+version) || n != 6 {
		t.Errorf("status shows %d groups of version %s, want 6:\n%s", n, version, status)
	}
	logs, _, err := e.pilotage("logs", "--namespace", e.ns, "shop", "catalog")
	if err != nil {
		t.Fatal(err)
	}
	if n := regexp.MustCompile(`(?m)^shop-`+version+`-catalog-catalog-\S+ \| .*msg="catalog loaded"`).FindAllString(logs, -1); len(n) != 2 {
		t.Errorf("logs of catalog: %d \"catalog loaded\" lines, want one of each of its 2 pods:\n%s", len(n), logs)
	}
	if len(deps.Items) != 6 {
		t.Errorf("%d deployments, want 6 (main, frontend, catalog, cart, checkout, payment, shipping colocated as configured)", len(deps.Items))
	}

	client := e.dialer().HTTPClient(10 * time.Second)
	url := e.listenerURL("shop", "shop")
	routed(t, client, url+"/api/products")
	post := func(path, body string) string {
		t.Helper()
		resp, err := client.Post(url+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %s", path, resp.Status)
		}
		var v map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			t.Fatal(err)
		}
		out, _ := json.Marshal(v)
		return string(out)
	}
	post("/api/cart/alice", `{"ProductID": "mug", "Quantity": 2}`)
	post("/api/cart/alice", `{"ProductID": "lamp", "Quantity": 1}`)
	order := post("/api/checkout/alice", fmt.Sprintf(`{"Number": "4242424242424242", "ExpiryMonth": 12, "ExpiryYear": %d}`, time.Now().Year()+2))
	// 2 × 12.00 + 49.00, and 1.9 kg ships for 4.90 + 2.00: as in the
	// shop's own test, in one process.
	if !strings.Contains(order, `"Total":{"Cents":7990,"Currency":"EUR"}`) {
		t.Errorf("order = %s, want a total of EUR 79.90", order)
	}

	// Each pod serves its replica's metrics where its prometheus.io
	// annotations say; summed over the pods, they count this test's calls.
	want := map[string]float64{
		"calls cart.Cart Add server":                2,
		"calls checkout.Checkout PlaceOrder server": 1,
		"calls payment.Payment Charge server":       1,
		"shop_orders_total currency=EUR":            1, // the checkout's own counter (otel.Meter)
	}
	eventually(t, 15*time.Second, "the pods' metrics count the calls", func() error {
		got := map[string]float64{}
		for _, p := range e.pods(layout.LabelVersion + "=" + version) {
			if a := p.Annotations; a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != fmt.Sprint(layout.HealthPort) {
				return fmt.Errorf("pod %s: annotations %v, want Prometheus' scrape annotations", p.Name, a)
			}
			body, err := e.cs.CoreV1().Pods(e.ns).ProxyGet("http", p.Name, fmt.Sprint(layout.HealthPort), layout.MetricsPath, nil).DoRaw(context.Background())
			if err != nil {
				return fmt.Errorf("metrics of pod %s: %w", p.Name, err)
			}
			sums, err := telemetrytest.Sums(body)
			if err != nil {
				return fmt.Errorf("metrics of pod %s: %w", p.Name, err)
			}
			for k, v := range sums {
				got[k] += v
			}
		}
		for k, v := range want {
			if got[k] != v {
				return fmt.Errorf("metrics %v, want %v", got, want)
			}
		}
		return nil
	})

	out, _, err := e.pilotage("delete", "--namespace", e.ns, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "deleted shop: ") {
		t.Errorf("delete printed %q", out)
	}
	for _, kind := range []string{"deployments", "services", "configmaps", "serviceaccounts", "roles", "rolebindings"} {
		list, err := e.cs.CoreV1().RESTClient().Get().AbsPath(apiPath(kind), "namespaces", e.ns, kind).
			Param("labelSelector", layout.LabelApp+"=shop").DoRaw(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(list), `"metadata":{"name"`) {
			t.Errorf("after delete, %s of shop remain: %s", kind, list)
		}
	}
}

// routed waits until url answers. Deploy returns once the listener's
// EndpointSlices list the new pods; kube-proxy programs the node's rules
// from them a moment later.
func routed(t *testing.T, client *http.Client, url string) {
	t.Helper()
	begin := time.Now()
	eventually(t, 5*time.Second, "the listener answers", func() error {
		_, err := get(client, url)
		return err
	})
	t.Logf("first answer %s after deploy returned", time.Since(begin).Round(time.Millisecond))
}

// apiPath is the API group path of kind.
func apiPath(kind string) string {
	switch kind {
	case "deployments":
		return "/apis/apps/v1"
	case "roles", "rolebindings":
		return "/apis/rbac.authorization.k8s.io/v1"
	}
	return "/api/v1"
}

// versionOf returns the version in a pod name made by deploy
// (<app>-<version>-<group>-<hash>-<id>).
func versionOf(app, pod string) string {
	rest, ok := strings.CutPrefix(pod, app+"-")
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, "-")
	return v
}

// hostsVersion checks a /hosts reply of loadapp (the listener's, the
// Front's and the Calc's pod names) and returns the version all three
// pods belong to, or an error if they are not one version.
func hostsVersion(body string) (string, error) {
	hosts := strings.Fields(body)
	if len(hosts) != 3 {
		return "", fmt.Errorf("/hosts = %q, want 3 host names", body)
	}
	v := versionOf("loadapp", hosts[0])
	for _, h := range hosts {
		if versionOf("loadapp", h) != v || v == "" {
			return "", fmt.Errorf("a request crossed versions: %q", body)
		}
	}
	return v, nil
}

// Versions of loadapp (an HTTP listener over Front over Calc, each group
// 2 replicas) under load: pods deleted are replaced with no failed
// request; a new version takes all traffic at once with no failed
// request and no call from one version to another, as each replica
// records in its reply.
func TestVersions(t *testing.T) {
	e := newEnv(t)
	cfg := `
[listeners.http]
address = ":8080"
[listeners.site]
address = ":8081"
`
	v1 := e.deploy(loadappDir, cfg)
	client := e.dialer().HTTPClient(10 * time.Second)
	url := e.listenerURL("loadapp", "http")
	routed(t, client, url+"/hosts")
	body, err := get(client, url+"/hosts")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := hostsVersion(body); err != nil || v != v1 {
		t.Fatalf("/hosts = %q (%v), want pods of version %s", body, err, v1)
	}

	t.Run("pod deleted under load", func(t *testing.T) {
		l := startLoad(client, url+"/half?n=42", 4)
		l.waitRequests(t, 100)
		for _, g := range e.groups(v1) {
			pods := e.pods(layout.LabelVersion + "=" + v1 + "," + layout.LabelGroup + "=" + g)
			if len(pods) == 0 {
				t.Fatalf("no pod of group %s", g)
			}
			t.Logf("delete pod %s", pods[0].Name)
			if err := e.cs.CoreV1().Pods(e.ns).Delete(context.Background(), pods[0].Name, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		e.waitAllReady(t, v1)
		l.waitRequests(t, 100)
		rs := l.finish()
		if failed := failures(t, rs); len(failed) > 0 {
			t.Errorf("%d of %d requests failed while pods were replaced", len(failed), len(rs))
		}
		for _, r := range rs {
			if r.err == nil && strings.TrimSpace(r.body) != "21" {
				t.Fatalf("/half?n=42 = %q", r.body)
			}
		}
		t.Logf("%d requests, none failed, while a pod of each group was deleted and replaced", len(rs))
	})

	var v2 string
	t.Run("blue/green", func(t *testing.T) {
		l := startLoad(client, url+"/hosts", 4)
		l.waitRequests(t, 100)
		v2 = e.deploy(loadappDir, cfg+"# version 2\n")
		if v2 == v1 {
			t.Fatalf("a changed configuration deployed as the same version %s", v1)
		}
		l.waitRequests(t, 100)
		checkSwitch(t, l.finish(), v1, v2)
		e.checkRetired(t, v1)
	})
	if v2 == "" {
		t.FailNow()
	}

	t.Run("rollback", func(t *testing.T) {
		l := startLoad(client, url+"/hosts", 4)
		l.waitRequests(t, 100)
		out, _, err := e.pilotage("rollback", "--namespace", e.ns, "loadapp")
		if err != nil {
			t.Fatal(err)
		}
		if want := "loadapp " + v1 + "\n"; out != want {
			t.Errorf("rollback printed %q, want %q", out, want)
		}
		l.waitRequests(t, 100)
		checkSwitch(t, l.finish(), v2, v1)
		e.checkRetired(t, v2)
	})

	t.Run("stop and start one component", func(t *testing.T) {
		if _, _, err := e.pilotage("stop", "--namespace", e.ns, "loadapp", "testapp.Nope"); err == nil {
			t.Error("stop of a component the app does not have succeeded")
		}
		out, _, err := e.pilotage("stop", "--namespace", e.ns, "loadapp", "testapp.Front")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(out, "stopped group ") {
			t.Errorf("stop printed %q", out)
		}
		status, _, err := e.pilotage("status", "--namespace", e.ns, "loadapp")
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`(?m)^` + v1 + `\s+testapp-front\s+0/0\s+stopped\s+testapp.Front$`).MatchString(status) {
			t.Errorf("status does not show testapp-front stopped:\n%s", status)
		}
		front := e.deploymentOf(t, v1, "testapp.Front")
		if *front.Spec.Replicas != 0 || len(e.pods(labelsOf(front))) != 0 {
			t.Errorf("front: %d replicas, pods left after stop", *front.Spec.Replicas)
		}
		// The main group calls Calc directly for /pid, and Front for
		// /half: the first keeps working, the second fails fast.
		for range 20 {
			if _, err := get(client, url+"/pid"); err != nil {
				t.Fatalf("/pid with Front stopped: %v", err)
			}
		}
		begin := time.Now()
		if _, err := get(client, url+"/half?n=4"); err == nil || !strings.Contains(err.Error(), "503") {
			t.Errorf("/half with Front stopped: %v, want 503 unavailable", err)
		}
		if d := time.Since(begin); d > 2*time.Second {
			t.Errorf("/half with Front stopped took %s, want a fast failure", d)
		}
		for _, d := range e.deployments(t, v1) {
			if d.Name != front.Name && (*d.Spec.Replicas == 0 || d.Status.ReadyReplicas != *d.Spec.Replicas) {
				t.Errorf("deployment %s: %d of %d ready while Front is stopped", d.Name, d.Status.ReadyReplicas, *d.Spec.Replicas)
			}
		}
		if _, _, err := e.pilotage("start", "--namespace", e.ns, "loadapp", "testapp.Front"); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "/half after start", func() error {
			_, err := get(client, url+"/half?n=4")
			return err
		})
	})

	t.Run("canary and abort", func(t *testing.T) { testCanary(t, e, client, url, cfg, v1) })

	t.Run("shell lists the pods and execs in them", func(t *testing.T) {
		pods := "/kube/admin/namespaces/" + e.ns + "/pods"
		out, _, err := e.pilotage("sh", "-c", "ls "+pods)
		if err != nil {
			t.Fatal(err)
		}
		running := e.pods(layout.LabelVersion + "=" + v1)
		for _, p := range running {
			if !strings.Contains(out, p.Name) {
				t.Errorf("ls %s does not list pod %s:\n%s", pods, p.Name, out)
			}
		}
		// The image holds the pilotage binary beside the app's: run it,
		// through the API server and the kubelet (remotecommand).
		out, _, err = e.pilotage("sh", "-c", "exec "+pods+"/"+running[0].Name+" /pilotage version")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(out, "pilotage ") {
			t.Errorf("exec /pilotage version printed %q", out)
		}
		out, _, err = e.pilotage("sh", "-c", "exec "+pods+"/"+versionPods("loadapp", v1)+" -- /pilotage version")
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(out, ": pilotage "); n != len(running) {
			t.Errorf("exec in %d pods printed %d versions:\n%s", len(running), n, out)
		}
	})

	t.Run("canary and promote", func(t *testing.T) { testPromote(t, e, client, url, cfg, v1) })
}

// A canary promoted takes all the traffic at once, with no failed
// request; the router is removed, and the version live before is
// retired.
func testPromote(t *testing.T, e *env, client *http.Client, url, cfg, live string) {
	canary := e.deploy(loadappDir, cfg+"# version 4\n", "--canary", "30")
	l := startLoad(client, url+"/hosts", 4)
	l.waitRequests(t, 300)
	_, stderr, err := e.pilotage("promote", "--namespace", e.ns, "loadapp")
	if err != nil {
		t.Fatal(err)
	}
	promoted := time.Now()
	if !strings.Contains(stderr, "canary "+canary+" took ") {
		t.Errorf("promote did not report the canary's counts:\n%s", stderr)
	}
	l.waitRequests(t, 300)
	rs := l.finish()
	if failed := failures(t, rs); len(failed) > 0 {
		t.Errorf("%d of %d requests failed during the canary and its promotion", len(failed), len(rs))
	}
	counts := map[string]int{}
	for _, r := range rs {
		v, err := hostsVersion(r.body)
		if err != nil {
			t.Fatal(err)
		}
		if r.start.After(promoted) {
			counts[v]++
		}
	}
	if counts[canary] == 0 || len(counts) > 1 {
		t.Errorf("after promote, requests went to %v, want version %s alone", counts, canary)
	}
	for _, p := range e.pods(layout.LabelRole + "=" + layout.RoleRouter) {
		if p.DeletionTimestamp == nil {
			t.Errorf("router pod %s is left after promote", p.Name)
		}
	}
	e.checkRetired(t, live)
}

// A canary with 10 % of the traffic gets 10 % ± 3 % of requests, a
// client that names itself (the sticky header) stays on one version, the
// router's counts show in status, and abort returns all of it to the
// live version with no failed request.
func testCanary(t *testing.T, e *env, client *http.Client, url, cfg, live string) {
	l := startLoad(client, url+"/hosts", 4)
	l.waitRequests(t, 50)
	canary := e.deploy(loadappDir, cfg+"# version 3\n", "--canary", "10", "--sticky", "header:X-User")
	started := time.Now()

	// Each user's requests go to one version; about 10 % of users are
	// on the canary.
	users := map[string]int{}
	for u := range 60 {
		var first string
		for i := range 4 {
			req, _ := http.NewRequest("GET", url+"/hosts", nil)
			req.Header.Set("X-User", fmt.Sprint("user-", u))
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("user %d: status %d %q: %v", u, resp.StatusCode, body, err)
			}
			v, err := hostsVersion(string(body))
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				first = v
				users[v]++
			} else if v != first {
				t.Errorf("user %d went to version %s, then to %s", u, first, v)
			}
		}
	}
	t.Logf("users by version with --sticky header:X-User: %v", users)
	if users[canary] == 0 || users[canary] > 20 {
		t.Errorf("%d of 60 users on the 10 %% canary", users[canary])
	}

	l.waitRequests(t, 2000)
	status, _, err := e.pilotage("status", "--namespace", e.ns, "--kube", "loadapp")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("status during the canary:\n%s", status)
	for _, want := range []string{"canary router loadapp-canary-router: 2/2 ready, sticky by header:X-User", "canary " + canary + " took "} {
		if !strings.Contains(status, want) {
			t.Errorf("status does not say %q", want)
		}
	}
	abortStarted := time.Now()
	out, stderr, err := e.pilotage("abort", "--namespace", e.ns, "loadapp")
	if err != nil {
		t.Fatal(err)
	}
	if want := "loadapp " + live + "\n"; out != want {
		t.Errorf("abort printed %q, want %q", out, want)
	}
	if !strings.Contains(stderr, "canary "+canary+" took ") {
		t.Errorf("abort did not report the canary's counts:\n%s", stderr)
	}
	aborted := time.Now()
	l.waitRequests(t, 500)
	rs := l.finish()
	if failed := failures(t, rs); len(failed) > 0 {
		t.Errorf("%d of %d requests failed during the canary and its abort", len(failed), len(rs))
	}
	// The share is counted from the first reply of the canary (kube-proxy
	// programs the node a moment after the deploy returns) to the start
	// of the abort.
	versions := make([]string, len(rs))
	var firstCanary, lastCanary time.Time
	for i, r := range rs {
		if r.err != nil {
			continue
		}
		v, err := hostsVersion(r.body)
		if err != nil {
			t.Fatal(err)
		}
		versions[i] = v
		if v == canary && (firstCanary.IsZero() || r.end.Before(firstCanary)) {
			firstCanary = r.end
		}
		if v == canary && r.start.After(lastCanary) {
			lastCanary = r.start
		}
	}
	counts := map[string]int{}
	for i, r := range rs {
		if versions[i] != "" && r.start.After(firstCanary) && r.end.Before(abortStarted) {
			counts[versions[i]]++
		}
	}
	t.Logf("first reply of the canary %s after its deploy returned", firstCanary.Sub(started).Round(time.Millisecond))
	total := counts[live] + counts[canary]
	share := 100 * float64(counts[canary]) / float64(total)
	t.Logf("canary %s: %d of %d requests (%.1f %%) while live %s took the rest; replies by version %v", canary, counts[canary], total, share, live, counts)
	// Shared request by request: of 2000 requests, 10 % is 200 with a
	// standard deviation of 13, so 7 % to 13 % is 4.5 of them either side.
	if share < 7 || share > 13 || len(counts) > 2 {
		t.Errorf("the 10 %% canary got %.1f %% of requests (%v), want 10 %% ± 3 %%", share, counts)
	}
	if lastCanary.After(aborted) {
		t.Errorf("a request begun %s after abort returned went to the canary", lastCanary.Sub(aborted))
	}
	for _, sel := range []string{layout.LabelVersion + "=" + canary, layout.LabelRole + "=" + layout.RoleRouter} {
		for _, p := range e.pods(sel) {
			if p.DeletionTimestamp == nil {
				t.Errorf("pod %s of the aborted canary is not being removed", p.Name)
			}
		}
	}
	svcs, err := e.cs.CoreV1().Services(e.ns).List(context.Background(), metav1.ListOptions{LabelSelector: layout.LabelRole + "=" + layout.RoleCanaryBackend})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range svcs.Items {
		t.Errorf("service %s of the aborted canary is left", s.Name)
	}
	e.waitAllReady(t, live)
	for _, d := range e.deployments(t, live) {
		if *d.Spec.Replicas != 2 {
			t.Errorf("after abort, deployment %s has %d replicas, want its 2", d.Name, *d.Spec.Replicas)
		}
	}
}

// versionPods is a glob of the pods of one version of app.
func versionPods(app, version string) string { return app + "-" + version + "-*" }

// checkRetired checks that version kept its Deployments at zero replicas
// (for a rollback), and its pods are gone or going.
func (e *env) checkRetired(t *testing.T, version string) {
	t.Helper()
	deps := e.deployments(t, version)
	if len(deps) == 0 {
		t.Errorf("version %s: no deployments kept", version)
	}
	for _, d := range deps {
		if *d.Spec.Replicas != 0 {
			t.Errorf("deployment %s of retired version %s: %d replicas, want 0", d.Name, version, *d.Spec.Replicas)
		}
	}
	eventually(t, time.Minute, "pods of version "+version+" gone", func() error {
		if pods := e.pods(layout.LabelVersion + "=" + version); len(pods) != 0 {
			return fmt.Errorf("%d pods left", len(pods))
		}
		return nil
	})
}

// deployments returns the Deployments of version.
func (e *env) deployments(t *testing.T, version string) []appsv1.Deployment {
	t.Helper()
	deps, err := e.cs.AppsV1().Deployments(e.ns).List(context.Background(), metav1.ListOptions{LabelSelector: layout.LabelVersion + "=" + version})
	if err != nil {
		t.Fatal(err)
	}
	return deps.Items
}

// deploymentOf returns the Deployment of version that runs component.
func (e *env) deploymentOf(t *testing.T, version, component string) *appsv1.Deployment {
	t.Helper()
	for _, d := range e.deployments(t, version) {
		if strings.Contains(","+d.Annotations[layout.AnnotationComponents]+",", "/"+component+",") {
			return &d
		}
	}
	t.Fatalf("no deployment of version %s runs %s", version, component)
	return nil
}

func labelsOf(d *appsv1.Deployment) string {
	return metav1.FormatLabelSelector(d.Spec.Selector)
}

// checkSwitch asserts that the requests rs went to version from, then to
// version to, and none failed; that no call crossed versions; and that
// the switch was atomic: no request that began after one was answered by
// to was answered by from.
func checkSwitch(t *testing.T, rs []result, from, to string) {
	t.Helper()
	if failed := failures(t, rs); len(failed) > 0 {
		t.Errorf("%d of %d requests failed during the switch from %s to %s", len(failed), len(rs), from, to)
	}
	var firstTo time.Time // when the first reply of to came
	counts := map[string]int{}
	for _, r := range rs {
		if r.err != nil {
			continue
		}
		v, err := hostsVersion(r.body)
		if err != nil {
			t.Fatal(err)
		}
		counts[v]++
		if v == to && (firstTo.IsZero() || r.end.Before(firstTo)) {
			firstTo = r.end
		}
	}
	if counts[from] == 0 || counts[to] == 0 || len(counts) != 2 {
		t.Fatalf("replies by version: %v; want some of %s, then some of %s", counts, from, to)
	}
	late := 0
	var lastFrom time.Time
	for _, r := range rs {
		if r.err == nil && strings.Contains(r.body, "-"+from+"-") && r.start.After(firstTo) {
			late++
			if r.start.After(lastFrom) {
				lastFrom = r.start
			}
		}
	}
	if late > 0 {
		t.Errorf("%d requests begun after version %s answered went to %s, the last %s later", late, to, from, lastFrom.Sub(firstTo))
	}
	t.Logf("switch %s -> %s: %d requests (%v), none failed, none crossed versions", from, to, len(rs), counts)
}

// groups returns the groups of version (their pods' group label).
func (e *env) groups(version string) []string {
	var gs []string
	for _, d := range e.deployments(e.t, version) {
		gs = append(gs, d.Labels[layout.LabelGroup])
	}
	return gs
}

// waitAllReady waits until every Deployment of version has all its
// replicas ready and up to date, and no pod of it is terminating.
func (e *env) waitAllReady(t *testing.T, version string) {
	t.Helper()
	sel := layout.LabelVersion + "=" + version
	eventually(t, 2*time.Minute, "version "+version+" all ready", func() error {
		deps, err := e.cs.AppsV1().Deployments(e.ns).List(context.Background(), metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return err
		}
		for _, d := range deps.Items {
			if !deploymentDone(&d) {
				return fmt.Errorf("deployment %s: %d of %d ready", d.Name, d.Status.ReadyReplicas, *d.Spec.Replicas)
			}
		}
		for _, p := range e.pods(sel) {
			if p.DeletionTimestamp != nil {
				return fmt.Errorf("pod %s terminating", p.Name)
			}
		}
		return nil
	})
}

func deploymentDone(d *appsv1.Deployment) bool {
	s := d.Status
	return s.ObservedGeneration >= d.Generation && s.ReadyReplicas == *d.Spec.Replicas &&
		s.UpdatedReplicas == *d.Spec.Replicas && s.Replicas == *d.Spec.Replicas
}
