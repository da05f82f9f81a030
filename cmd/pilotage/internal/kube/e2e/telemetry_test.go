package e2e

import (
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/telemetry/telemetrytest"
)

// The shop on Kubernetes is traced as under "pilotage run": with
// [telemetry] otlp_endpoint naming a collector (a real OTLP/HTTP endpoint
// in the test, which the pods reach at the node's address), one checkout
// through the listener's Service is one trace whose spans come from the
// pod of every group it went through, each span's parent in the trace.
func TestTelemetryOnKubernetes(t *testing.T) {
	e := newEnv(t)
	d := e.dialer()
	l, err := d.Listen(":0")
	if err != nil {
		t.Fatal(err)
	}
	collector := &telemetrytest.Collector{}
	srv := &http.Server{Handler: collector, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	defer srv.Close()
	endpoint := fmt.Sprintf("http://%s", net.JoinHostPort(e.c.NodeIP, fmt.Sprint(l.Addr().(*net.TCPAddr).Port)))
	e.deploy(shopDir, "[app]\nname = \"shop\"\n[listeners.shop]\naddress = \":8080\"\n"+
		"[components.\"catalog.Catalog\"]\ncurrency = \"EUR\"\n[run.components.\"cart.Cart\"]\nreplicas = 1\n"+
		fmt.Sprintf("[telemetry]\notlp_endpoint = %q\nsample_ratio = 1\n", endpoint))

	client := d.HTTPClient(10 * time.Second)
	url := e.listenerURL("shop", "shop")
	routed(t, client, url+"/api/products")
	for _, req := range []struct{ path, body string }{
		{"/api/cart/alice", `{"ProductID": "mug", "Quantity": 2}`},
		{"/api/checkout/alice", fmt.Sprintf(`{"Number": "4242424242424242", "ExpiryMonth": 12, "ExpiryYear": %d}`, time.Now().Year()+2)},
	} {
		resp, err := client.Post(url+req.path, "application/json", strings.NewReader(req.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %s", req.path, resp.Status)
		}
	}

	// The checkout's trace: the request's span in a pod of the main
	// group, and the calls it made, client and server side, 14 spans as
	// under "pilotage run".
	var spans []telemetrytest.Span
	eventually(t, 30*time.Second, "the checkout's trace at the collector", func() error {
		for _, root := range collector.Roots() {
			if root.Name == "POST /api/checkout/alice" {
				if spans = collector.Trace(hex.EncodeToString(root.TraceId)); len(spans) >= 14 {
					return nil
				}
			}
		}
		return fmt.Errorf("%d roots received, %d spans of the checkout", len(collector.Roots()), len(spans))
	})
	byID := map[string]telemetrytest.Span{}
	pods := map[string]bool{}
	for _, s := range spans {
		byID[hex.EncodeToString(s.SpanId)] = s
		pods[s.Replica] = true
	}
	if len(spans) != 14 || len(byID) != 14 {
		t.Errorf("the checkout's trace has %d spans (%d distinct), want 14", len(spans), len(byID))
	}
	for _, s := range spans {
		if len(s.ParentSpanId) == 0 {
			if !strings.Contains(s.Replica, "-pilotage-main-") {
				t.Errorf("the checkout's root span comes from %s, want a pod of the main group", s.Replica)
			}
			continue
		}
		if _, ok := byID[hex.EncodeToString(s.ParentSpanId)]; !ok {
			t.Errorf("span %q of pod %s: its parent is not in the trace", s.Name, s.Replica)
		}
	}
	// main, checkout, cart, catalog, shipping, payment: a pod of each.
	if len(pods) != 6 {
		t.Errorf("the checkout's spans come from %d pods, want 6 (a pod of each group it went through): %v", len(pods), pods)
	}

	// The pods keep what they sampled: pilotage traces and trace read it
	// from every pod and merge it into the same trace the collector got.
	checkout := hex.EncodeToString(spans[0].TraceId)
	out, _, err := e.pilotage("traces", "--kube", "--namespace", e.ns, "--slowest", "-n", "0", "shop")
	if err != nil {
		t.Fatalf("pilotage traces --kube: %v", err)
	}
	var row []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == checkout {
			row = f
		}
	}
	// TRACE START DURATION SPANS ERRORS PROCESSES ROOT(POST /api/checkout/alice)
	if want := []string{"14", "0", "6", "POST", "/api/checkout/alice"}; len(row) != 8 || !slices.Equal(row[3:], want) {
		t.Errorf("pilotage traces --kube: the checkout's row is %q, want spans, errors, processes and root %q", row, want)
	}
	out, _, err = e.pilotage("trace", "--kube", "--namespace", e.ns, "shop", checkout[:12])
	if err != nil {
		t.Fatalf("pilotage trace --kube: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2+14 || !strings.HasPrefix(lines[0], "trace "+checkout+": 14 spans") || !strings.HasPrefix(lines[2], "POST /api/checkout/alice ") {
		t.Errorf("pilotage trace --kube: want a header, a heading and the 14 spans under the request's, got:\n%s", out)
	}
	for _, s := range spans {
		if !strings.Contains(out, s.Replica) {
			t.Errorf("pilotage trace --kube does not show pod %s, where span %q ran", s.Replica, s.Name)
		}
	}
	if _, stderr, err := e.pilotage("trace", "--kube", "--namespace", e.ns, "shop", strings.Repeat("0", 32)); err == nil || !strings.Contains(stderr, "no pod of shop keeps a trace") {
		t.Errorf("pilotage trace --kube of an unknown trace: %v, %q", err, stderr)
	}

	// pilotage logs --kube --trace: the lines of the checkout, from the
	// checkout's pod.
	out, _, err = e.pilotage("logs", "--kube", "--namespace", e.ns, "--trace", checkout, "shop")
	if err != nil || !strings.Contains(out, "order placed") || !strings.Contains(out, "-checkout-checkout-") || strings.Contains(out, "/api/products") {
		t.Errorf("pilotage logs --kube --trace: %v; want the checkout's \"order placed\" line from its pod, and nothing of other requests:\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.Contains(line, "trace_id="+checkout) && !strings.Contains(line, `"trace_id":"`+checkout) {
			t.Errorf("pilotage logs --kube --trace printed a line of another trace: %q", line)
		}
	}

	// pilotage top --kube sums the pods' counters (Cart.Add was served)
	// and lists every pod's process.
	out, _, err = e.pilotage("top", "--kube", "--namespace", e.ns, "-n", "1", "-interval", "1s", "shop")
	if err != nil {
		t.Fatalf("pilotage top --kube: %v", err)
	}
	if !regexp.MustCompile(`(?m)^\s*cart\.Cart\.Add\s+server\s`).MatchString(out) {
		t.Errorf("pilotage top --kube shows no Cart.Add served:\n%s", out)
	}
	for pod := range pods {
		if !regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(pod) + `\s`).MatchString(out) {
			t.Errorf("pilotage top --kube does not list pod %s", pod)
		}
	}
}
