package telemetry

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pilotage/pilotage/internal/envelope"
)

// collector gathers what a Runtime sends.
type collector struct {
	mu      sync.Mutex
	spans   []envelope.Span
	metrics []envelope.Metrics
}

func (c *collector) send(m envelope.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch m := m.(type) {
	case envelope.Spans:
		c.spans = append(c.spans, m.Spans...)
	case envelope.Metrics:
		c.metrics = append(c.metrics, m)
	}
	return nil
}

func startRuntime(t *testing.T, cfg envelope.Telemetry) (*Runtime, *collector) {
	t.Helper()
	col := &collector{}
	if cfg.Interval == 0 {
		cfg.Interval = envelope.Duration(time.Hour) // sent at Shutdown
	}
	r, err := Start(&cfg, col.send)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Shutdown(context.Background()) })
	return r, col
}

// TestListenerSpans checks that each HTTP request on a wrapped listener is
// one server span, ended once its response was written, whatever the body
// framing (length, chunks, none), over one kept-alive connection; and that
// the handler's context leads to the request's span.
func TestListenerSpans(t *testing.T) {
	r, col := startRuntime(t, envelope.Telemetry{SampleRatio: 1})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan string, 16)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		io.Copy(io.Discard, req.Body)
		seen <- SpanContext(req.Context()).SpanID().String()
		switch req.URL.Path {
		case "/chunked":
			w.Write([]byte(strings.Repeat("x", 10000))) // over net/http's buffer: chunked
			w.(http.Flusher).Flush()
			w.Write([]byte("end"))
		case "/fail":
			http.Error(w, "no", http.StatusInternalServerError)
		default:
			w.Write([]byte("ok"))
		}
	})}
	go srv.Serve(r.Listener("web", l))
	defer srv.Close()

	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	base := "http://" + l.Addr().String()
	do := func(method, path, body string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if body != "" && method == "PUT" {
			req.ContentLength = -1 // chunked request body
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	do("GET", "/a?q=1", "")
	do("POST", "/b", "some body")
	do("PUT", "/c", strings.Repeat("y", 5000))
	do("GET", "/chunked", "")
	do("HEAD", "/d", "")
	do("GET", "/fail", "")
	client.CloseIdleConnections()

	var ids []string
	for range 6 {
		ids = append(ids, <-seen)
	}
	// Once the server is shut down, every response was written: the
	// client may read one before the server's write returns.
	srv.Shutdown(context.Background())
	r.Shutdown(context.Background())
	want := []string{"GET /a", "POST /b", "PUT /c", "GET /chunked", "HEAD /d", "GET /fail"}
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.spans) != len(want) {
		t.Fatalf("got %d spans (%+v), want %d", len(col.spans), col.spans, len(want))
	}
	for i, s := range col.spans {
		if s.Name != want[i] || s.Kind != "server" || s.SpanID != ids[i] {
			t.Errorf("span %d: %s %s id %s, want %s server id %s (the handler's)", i, s.Name, s.Kind, s.SpanID, want[i], ids[i])
		}
		if (s.Status == "error") != (want[i] == "GET /fail") {
			t.Errorf("span %s: status %q", s.Name, s.Status)
		}
	}
}

// TestListenerPassesOtherProtocols checks that a connection whose first
// bytes are not HTTP/1.x is left alone.
func TestListenerPassesOtherProtocols(t *testing.T) {
	r, col := startRuntime(t, envelope.Telemetry{SampleRatio: 1})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wl := r.Listener("raw", l)
	go func() {
		c, err := wl.Accept()
		if err != nil {
			return
		}
		io.Copy(c, c)
		c.Close()
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	msg := "\x16\x03\x01 not http\r\n\r\nGET / HTTP/1.1\r\n\r\n"
	c.Write([]byte(msg))
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
		t.Fatalf("echo: %q, %v", got, err)
	}
	c.Close()
	l.Close()
	r.Shutdown(context.Background())
	if len(col.spans) != 0 {
		t.Errorf("spans of a non-HTTP connection: %+v", col.spans)
	}
}

// A request carrying a W3C traceparent header continues its caller's trace.
func TestListenerContinuesIncomingTrace(t *testing.T) {
	r, col := startRuntime(t, envelope.Telemetry{SampleRatio: 1})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})}
	go srv.Serve(r.Listener("web", l))
	defer srv.Close()
	const tid, sid = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	req, _ := http.NewRequest("GET", "http://"+l.Addr().String()+"/x", nil)
	req.Header.Set("traceparent", "00-"+tid+"-"+sid+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	srv.Shutdown(context.Background())
	r.Shutdown(context.Background())
	if len(col.spans) != 1 || col.spans[0].TraceID != tid || col.spans[0].ParentSpanID != sid {
		t.Errorf("spans %+v, want one in trace %s with parent %s", col.spans, tid, sid)
	}
}
