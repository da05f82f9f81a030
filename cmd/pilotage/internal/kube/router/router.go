// Package router is the entrypoint of a canary's router pods, "pilotage
// kube-router". While a version of an app is a canary, its listener
// Services select these pods instead of a version's: each HTTP request
// is sent to the canary with the share asked for, and otherwise to the
// live version, through a Service per version and listener
// (layout.CanaryBackend). With a stickiness rule, a request carrying the
// rule's header or cookie goes where a hash of its value says, so one
// client stays on one version. The router counts each version's
// requests and failures (status 500 or more, or no reply), served at
// layout.RouterStatsPath for "pilotage status" and "pilotage promote".
//
// A canary's listeners must speak HTTP (HTTP/1.1, WebSocket upgrades
// included); sharing by request is what a Kubernetes Service, which
// shares connections, cannot do.
package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
)

// drainDelay is how long a terminating router keeps serving, not ready,
// so that kube-proxy has stopped sending it connections when it stops.
const drainDelay = 3 * time.Second

// Run serves the router's listeners and its health and stats until ctx
// is done (SIGTERM), then drains.
func Run(ctx context.Context, stderr io.Writer) error {
	s, err := layout.ReadRouterSettings()
	if err != nil {
		return err
	}
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, "pilotage: "+format+"\n", args...) }
	r, err := New(s, func(version, listener string) string {
		return net.JoinHostPort(layout.CanaryBackend(s.App, version, listener), strconv.Itoa(int(s.Listeners[listener])))
	})
	if err != nil {
		return err
	}
	var servers []*http.Server
	errc := make(chan error, len(s.Listeners)+1)
	serve := func(addr string, h http.Handler) error {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: time.Minute}
		servers = append(servers, srv)
		go func() { errc <- srv.Serve(l) }()
		return nil
	}
	for name, port := range s.Listeners {
		if err := serve(fmt.Sprintf(":%d", port), r.Listener(name)); err != nil {
			return fmt.Errorf("listener %s: %w", name, err)
		}
	}
	var draining atomic.Bool
	if err := serve(fmt.Sprintf(":%d", layout.HealthPort), r.Admin(&draining)); err != nil {
		return fmt.Errorf("health port: %w", err)
	}
	logf("canary router of %s: %d %% of requests to version %s, the rest to %s (sticky: %q)", s.App, s.Share, s.Canary, s.Live, s.Sticky)
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	draining.Store(true)
	logf("terminating: leaving the endpoints, then stopping in %s", drainDelay)
	time.Sleep(drainDelay)
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var errs []error
	for _, srv := range servers {
		errs = append(errs, srv.Shutdown(sctx))
	}
	return errors.Join(errs...)
}

// A Router shares requests between two versions.
type Router struct {
	live, canary target
	stickyKind   string
	stickyName   string
	// threshold: a request goes to the canary if its draw, in
	// [0, shareScale), is below it.
	threshold uint32
}

const shareScale = 10000

// A target is one version: its proxy per listener and its counts.
type target struct {
	version  string
	proxies  map[string]*httputil.ReverseProxy
	requests atomic.Int64
	errors   atomic.Int64
}

// New returns the router of s, reaching listener of version at the
// host:port backend returns.
func New(s layout.RouterSettings, backend func(version, listener string) string) (*Router, error) {
	kind, name, err := layout.ParseSticky(s.Sticky)
	if err != nil {
		return nil, err
	}
	if s.Share < 0 || s.Share > 100 {
		return nil, fmt.Errorf("share %d: want a percent", s.Share)
	}
	r := &Router{stickyKind: kind, stickyName: name, threshold: uint32(s.Share * shareScale / 100)}
	// One transport for both versions: keep-alive connections to each
	// backend Service, as many as the callers need.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	for _, t := range []*target{&r.live, &r.canary} {
		t.version = s.Live
		if t == &r.canary {
			t.version = s.Canary
		}
		t.proxies = map[string]*httputil.ReverseProxy{}
		for l := range s.Listeners {
			u := &url.URL{Scheme: "http", Host: backend(t.version, l)}
			t.proxies[l] = t.proxy(u, tr)
		}
	}
	return r, nil
}

func (t *target) proxy(u *url.URL, tr http.RoundTripper) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host // the app sees the host its client asked for
			pr.SetXForwarded()
		},
		Transport: tr,
		ModifyResponse: func(resp *http.Response) error {
			if resp.StatusCode >= 500 {
				t.errors.Add(1)
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
			t.errors.Add(1)
			if req.Context().Err() == nil { // the client is still there
				http.Error(w, fmt.Sprintf("pilotage canary router: version %s: %v", t.version, err), http.StatusBadGateway)
			}
		},
	}
}

// Listener returns the handler of one listener.
func (r *Router) Listener(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		t := r.pick(req)
		t.requests.Add(1)
		t.proxies[name].ServeHTTP(w, req)
	})
}

// pick returns the version req goes to.
func (r *Router) pick(req *http.Request) *target {
	if r.draw(req) < r.threshold {
		return &r.canary
	}
	return &r.live
}

// draw is req's number in [0, shareScale): a hash of its sticky key
// when it has one, else random.
func (r *Router) draw(req *http.Request) uint32 {
	key := ""
	switch r.stickyKind {
	case "header":
		key = req.Header.Get(r.stickyName)
	case "cookie":
		if c, err := req.Cookie(r.stickyName); err == nil {
			key = c.Value
		}
	}
	if key == "" {
		return rand.Uint32N(shareScale)
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return h.Sum32() % shareScale
}

// Stats returns what the router counted.
func (r *Router) Stats() layout.CanaryStats {
	return layout.CanaryStats{
		Live:   layout.VersionStats{Version: r.live.version, Requests: r.live.requests.Load(), Errors: r.live.errors.Load()},
		Canary: layout.VersionStats{Version: r.canary.version, Requests: r.canary.requests.Load(), Errors: r.canary.errors.Load()},
	}
}

// Admin returns the handler of the health port: readiness (false once
// draining) and the stats.
func (r *Router) Admin(draining *atomic.Bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if draining.Load() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc(layout.RouterStatsPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(r.Stats())
	})
	return mux
}
