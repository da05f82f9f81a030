package cli

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/telemetry/telemetrytest"
)

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// One request through the shop under "pilotage run" is one trace across
// every process it touched, with correct parent links, received by a real
// OTLP/HTTP endpoint and shown by "pilotage traces" and "pilotage trace";
// "pilotage logs --trace" prints its log lines from every process that
// logged; the Prometheus endpoint counts exactly the calls made.
func TestTelemetryOfTheShop(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the pilotage command and the shop")
	}
	collector := &telemetrytest.Collector{}
	otlp := httptest.NewServer(collector)
	t.Cleanup(otlp.Close) // after pilotage run stops (cleanups run last first): its last spans arrive
	metricsAddr := freePort(t)
	base := startShop(t, fmt.Sprintf("[telemetry]\notlp_endpoint = %q\nmetrics_address = %q\n", otlp.URL, metricsAddr))
	var err error
	post := func(path, body string) int {
		t.Helper()
		resp, err := http.Post(base+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("/api/cart/alice", `{"ProductID":"mug","Quantity":2}`); code != 200 {
		t.Fatalf("add to cart: %d", code)
	}
	if code := post("/api/checkout/alice", `{"Number":"4242424242424242","ExpiryMonth":12,"ExpiryYear":2099}`); code != 200 {
		t.Fatalf("checkout: %d", code)
	}

	// The checkout's trace, as the supervisor keeps it.
	var checkout api.TraceSummary
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var ts []api.TraceSummary
		withApp("", 5*time.Second, func(ctx context.Context, c *control.Client) error {
			ts, err = c.Traces(ctx, control.TraceQuery{})
			return err
		})
		i := slices.IndexFunc(ts, func(s api.TraceSummary) bool { return s.Root == "POST /api/checkout/alice" })
		// 1 HTTP span, a client and a server span for each of 6 calls,
		// and the checkout's own span (made with the OpenTelemetry API).
		if i >= 0 && ts[i].Spans == 14 {
			checkout = ts[i]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no trace of the checkout with 14 spans after 20s: %+v", ts)
		}
	}
	for _, comp := range []string{"pilotage.Main", "checkout.Checkout", "cart.Cart", "catalog.Catalog", "shipping.Shipping", "payment.Payment"} {
		if !slices.ContainsFunc(checkout.Processes, func(p string) bool { return strings.HasPrefix(p, comp+"/") }) {
			t.Errorf("the checkout's trace has no span of %s: processes %v", comp, checkout.Processes)
		}
	}

	// The same trace reaches the collector, every span of it, with parents.
	var spans []telemetrytest.Span
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if spans = collector.Trace(checkout.TraceID); len(spans) >= 14 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the collector got %d spans of trace %s after 20s, want 14", len(spans), checkout.TraceID)
		}
	}
	byID := map[string]telemetrytest.Span{}
	for _, s := range spans {
		byID[hex.EncodeToString(s.SpanId)] = s
	}
	if len(byID) != 14 || len(spans) != 14 {
		t.Errorf("the collector got %d spans (%d distinct) of the checkout's trace, want 14", len(spans), len(byID))
	}
	roots := 0
	for _, s := range spans {
		parentID := hex.EncodeToString(s.ParentSpanId)
		if parentID == "" {
			roots++
			if s.Name != "POST /api/checkout/alice" || s.Kind != tracepb.Span_SPAN_KIND_SERVER || !strings.HasPrefix(s.Replica, "pilotage.Main/") {
				t.Errorf("root span %q kind %v in %s, want the HTTP request's server span in pilotage.Main", s.Name, s.Kind, s.Replica)
			}
			continue
		}
		parent, ok := byID[parentID]
		if !ok {
			t.Errorf("span %q in %s: parent %s is not in the trace", s.Name, s.Replica, parentID)
			continue
		}
		switch s.Kind {
		case tracepb.Span_SPAN_KIND_CLIENT: // a call made while serving the parent, in the same process
			want := tracepb.Span_SPAN_KIND_SERVER
			if s.Name == "catalog.Catalog.Get" && strings.HasPrefix(s.Replica, "checkout.") {
				want = tracepb.Span_SPAN_KIND_INTERNAL // made within the checkout's own span
			}
			if parent.Kind != want || parent.Replica != s.Replica {
				t.Errorf("client span %q in %s has parent %q (%v) in %s, want a %v span of the same process", s.Name, s.Replica, parent.Name, parent.Kind, parent.Replica, want)
			}
		case tracepb.Span_SPAN_KIND_INTERNAL: // the checkout's own span, in PlaceOrder
			if s.Name != "price the cart" || parent.Name != "checkout.Checkout.PlaceOrder" || parent.Kind != tracepb.Span_SPAN_KIND_SERVER || parent.Replica != s.Replica {
				t.Errorf("internal span %q in %s has parent %q (%v) in %s, want the checkout's own span under PlaceOrder", s.Name, s.Replica, parent.Name, parent.Kind, parent.Replica)
			}
		case tracepb.Span_SPAN_KIND_SERVER: // the call served, its caller's client span in another process
			if parent.Kind != tracepb.Span_SPAN_KIND_CLIENT || parent.Name != s.Name || parent.Replica == s.Replica {
				t.Errorf("server span %q in %s has parent %q (%v) in %s, want the client span of the same method in another process", s.Name, s.Replica, parent.Name, parent.Kind, parent.Replica)
			}
		default:
			t.Errorf("span %q has kind %v", s.Name, s.Kind)
		}
	}
	if roots != 1 {
		t.Errorf("%d root spans, want 1", roots)
	}

	// pilotage trace shows it as a waterfall, the calls under their callers.
	out := mustRun(t, "trace", checkout.TraceID[:12])
	t.Logf("pilotage trace %s:\n%s", checkout.TraceID[:12], out)
	for _, want := range []string{"trace " + checkout.TraceID + ": 14 spans", "\nPOST /api/checkout/alice ", "\n  checkout.Checkout.PlaceOrder ", "\n    checkout.Checkout.PlaceOrder ", "\n      payment.Payment.Charge ", "\n        payment.Payment.Charge ",
		"\n      price the cart ", "\n        catalog.Catalog.Get ", "\n          catalog.Catalog.Get "} {
		if !strings.Contains(out, want) {
			t.Errorf("pilotage trace: no %q in\n%s", want, out)
		}
	}
	if out := mustRun(t, "traces"); !strings.Contains(out, checkout.TraceID) || !strings.Contains(out, "POST /api/cart/alice") {
		t.Errorf("pilotage traces: %s", out)
	}

	// Its log lines, from the processes that logged while serving it.
	out = mustRun(t, "logs", "--trace", checkout.TraceID)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "checkout.Checkout/") && !strings.HasPrefix(lines[1], "checkout.Checkout/") ||
		!strings.Contains(out, "order placed") || !strings.Contains(out, "charged") || !strings.Contains(out, "payment.Payment/") {
		t.Errorf("pilotage logs --trace: want the checkout's and the payment's line, got\n%s", out)
	}

	// Metrics: exact counts of what this test did, parsed by Prometheus's
	// own parser, from the TCP endpoint.
	const lists = 5
	for range lists {
		resp, err := http.Get(base + "/api/products")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if code := post("/api/checkout/bob", `{"Number":"4242424242424242","ExpiryMonth":12,"ExpiryYear":2099}`); code == 200 {
		t.Fatal("checkout of an empty cart succeeded")
	}
	want := map[string]float64{
		`calls catalog.Catalog List server`:          lists,
		`calls catalog.Catalog List client`:          lists,
		`calls catalog.Catalog Get server`:           2, // the cart's Add, the checkout of alice's mug
		`calls checkout.Checkout PlaceOrder server`:  2,
		`calls cart.Cart Add server`:                 1,
		`calls cart.Cart Items server`:               2,
		`calls payment.Payment Charge server`:        1,
		`errors checkout.Checkout PlaceOrder server`: 1, // bob's empty cart
		// The checkout's own counter (otel.Meter), alice's order.
		`shop_orders_total currency=EUR`: 1,
	}
	var got map[string]float64
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		got = scrape(t, "http://"+metricsAddr+"/metrics")
		ok := true
		for k, v := range want {
			ok = ok && got[k] == v
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics after 15s: got %v, want %v", got, want)
		}
	}
	if got["kind checkout.Checkout PlaceOrder application"] != 1 {
		t.Errorf("errors of PlaceOrder by kind: %v", got)
	}
	if got["latency catalog.Catalog List server"] != lists {
		t.Errorf("latency histogram of List counts %v calls, want %d", got["latency catalog.Catalog List server"], lists)
	}
	// The same metrics on the control socket.
	var exposition []byte
	withApp("", 5*time.Second, func(ctx context.Context, c *control.Client) error {
		exposition, err = c.Prometheus(ctx)
		return err
	})
	if viaSocket := parseMetrics(t, exposition); err != nil || viaSocket["calls catalog.Catalog List server"] != lists {
		t.Errorf("metrics on the control socket: %v, %v", viaSocket, err)
	}
	if got["goroutines"] == 0 || got["rss"] == 0 {
		t.Errorf("no process figures: %v", got)
	}
	out = mustRun(t, "top", "-n", "1", "-interval", "100ms")
	if !strings.Contains(out, "catalog.Catalog.List") || !strings.Contains(out, "PROCESS") {
		t.Errorf("pilotage top:\n%s", out)
	}
}

// startShop runs the example shop under "pilotage run", with its own
// pilotage.toml (its listener on a free port) and extra after it, in a
// state directory of its own that the pilotage commands of the test use;
// it returns the listener's URL once the shop is ready.
func startShop(t *testing.T, extra string) string {
	t.Helper()
	state, err := os.MkdirTemp("", "pl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(state) }) // after pilotage run stops
	shop, err := filepath.Abs("../../../../examples/shop")
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(filepath.Join(shop, "pilotage.toml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(text), `address = "127.0.0.1:8080"`, `address = "127.0.0.1:0"`, 1) + "\n" + extra
	cfgPath := filepath.Join(t.TempDir(), "pilotage.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	exited := startRun(t, []string{"PILOTAGE_STATE_DIR=" + state}, "-c", cfgPath, shop)
	t.Setenv("PILOTAGE_STATE_DIR", state)
	var st control.Status
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(200 * time.Millisecond) { // it builds the shop first
		js, _, code := run(t, "status", "-json")
		if code == 0 && json.Unmarshal([]byte(js), &st) == nil && !st.ReadyAt.IsZero() && len(st.Proxies) == 1 && st.Proxies[0].Address != "" {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("pilotage run exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the shop is not ready after 3m")
		}
	}
	base := "http://" + st.Proxies[0].Address
	return base
}

// scrape parses the Prometheus text at url with expfmt and sums the
// figures the test checks over replicas, by "calls|errors|latency
// component method side", "kind component method kind", "goroutines", "rss".
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return parseMetrics(t, body)
}

// parseMetrics is scrape's parser, on the text of an exposition.
func parseMetrics(t *testing.T, body []byte) map[string]float64 {
	t.Helper()
	sums, err := telemetrytest.Sums(body)
	if err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	return sums
}

// Calls between colocated components are direct calls, each an internal
// span of the trace under its caller's: with the checkout and shipping in
// one process, the checkout's call of Shipping.Quote is one span instead
// of a client and a server span.
func TestTelemetryOfColocatedCalls(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the pilotage command and the shop")
	}
	base := startShop(t, "[run]\ncolocate = [[\"checkout.Checkout\", \"shipping.Shipping\"]]\n")
	var err error
	for _, req := range []struct{ path, body string }{
		{"/api/cart/alice", `{"ProductID":"mug","Quantity":2}`},
		{"/api/checkout/alice", `{"Number":"4242424242424242","ExpiryMonth":12,"ExpiryYear":2099}`},
	} {
		resp, err := http.Post(base+req.path, "application/json", strings.NewReader(req.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("POST %s: %s", req.path, resp.Status)
		}
	}
	// 14 spans apart, 13 colocated.
	var trace *api.Trace
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var ts []api.TraceSummary
		withApp("", 5*time.Second, func(ctx context.Context, c *control.Client) error {
			ts, err = c.Traces(ctx, control.TraceQuery{})
			return err
		})
		if i := slices.IndexFunc(ts, func(s api.TraceSummary) bool { return s.Root == "POST /api/checkout/alice" && s.Spans == 13 }); i >= 0 {
			withApp("", 5*time.Second, func(ctx context.Context, c *control.Client) error {
				trace, err = c.Trace(ctx, ts[i].TraceID)
				return err
			})
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no trace of the checkout with 13 spans after 20s: %+v", ts)
		}
	}
	if trace == nil {
		t.Fatalf("the checkout's trace: %v", err)
	}
	ids := map[string]api.TraceSpan{}
	for _, s := range trace.Spans {
		ids[s.SpanID] = s
	}
	var local []api.TraceSpan
	for _, s := range trace.Spans {
		if s.Name == "shipping.Shipping.Quote" {
			local = append(local, s)
		}
	}
	if len(local) != 1 || local[0].Kind != "internal" || local[0].Attrs["pilotage.local"] != "true" || !strings.HasPrefix(local[0].Replica, "checkout.Checkout+shipping.Shipping/") {
		t.Fatalf("shipping.Shipping.Quote: %+v, want one internal span in the process of checkout and shipping", local)
	}
	if p, ok := ids[local[0].ParentSpanID]; !ok || p.Replica != local[0].Replica || p.Name != "checkout.Checkout.PlaceOrder" {
		t.Errorf("shipping.Shipping.Quote: its parent %+v is not PlaceOrder's server span in its process", p)
	}
}
