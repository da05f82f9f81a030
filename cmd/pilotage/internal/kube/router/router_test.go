package router

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
)

// backends starts an HTTP server per version that replies with the
// version's name (or fails with 500 when fail says so), and returns the
// router that shares between them.
func newRouter(t *testing.T, share int, sticky string, fail func(version string, r *http.Request) bool) (*Router, http.Handler) {
	t.Helper()
	addrs := map[string]string{}
	for _, v := range []string{"v1", "v2"} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if fail != nil && fail(v, r) {
				http.Error(w, "failed", http.StatusInternalServerError)
				return
			}
			fmt.Fprintf(w, "%s %s", v, r.Host)
		}))
		t.Cleanup(srv.Close)
		addrs[v] = strings.TrimPrefix(srv.URL, "http://")
	}
	s := layout.RouterSettings{App: "app", Live: "v1", Canary: "v2", Share: share, Sticky: sticky, Listeners: map[string]int32{"web": 8080}}
	r, err := New(s, func(version, listener string) string {
		if listener != "web" {
			t.Errorf("backend of listener %q", listener)
		}
		return addrs[version]
	})
	if err != nil {
		t.Fatal(err)
	}
	return r, r.Listener("web")
}

func get(t *testing.T, h http.Handler, header http.Header) (int, string) {
	t.Helper()
	req := httptest.NewRequest("GET", "http://shop.example/x", nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

func TestShareByRequest(t *testing.T) {
	r, h := newRouter(t, 10, "", nil)
	const n = 4000
	counts := map[string]int{}
	for range n {
		code, body := get(t, h, nil)
		if code != 200 {
			t.Fatalf("status %d: %s", code, body)
		}
		version, host, _ := strings.Cut(body, " ")
		if host != "shop.example" {
			t.Errorf("the backend saw host %q, want the client's shop.example", host)
		}
		counts[version]++
	}
	// 10 % of 4000 is 400 with a standard deviation of 19: 6 of them
	// either side never happens by chance.
	if c := counts["v2"]; c < 285 || c > 515 {
		t.Errorf("the 10 %% canary got %d of %d requests (%v)", c, n, counts)
	}
	st := r.Stats()
	if st.Live.Requests+st.Canary.Requests != n || st.Canary.Requests != int64(counts["v2"]) || st.Live.Errors+st.Canary.Errors != 0 {
		t.Errorf("stats %+v, want %v and no errors", st, counts)
	}
}

func TestStickyHeaderAndCookie(t *testing.T) {
	for _, rule := range []string{"header:X-User", "cookie:session"} {
		_, h := newRouter(t, 30, rule, nil)
		onCanary := 0
		for u := range 200 {
			hdr := http.Header{}
			if rule == "header:X-User" {
				hdr.Set("X-User", fmt.Sprint("user-", u))
			} else {
				hdr.Set("Cookie", fmt.Sprintf("other=1; session=user-%d", u))
			}
			_, first := get(t, h, hdr)
			for range 5 {
				if _, body := get(t, h, hdr); body != first {
					t.Fatalf("%s: user %d got %q, then %q", rule, u, first, body)
				}
			}
			if strings.HasPrefix(first, "v2") {
				onCanary++
			}
		}
		if onCanary < 30 || onCanary > 90 { // 60 expected, sd 6.5
			t.Errorf("%s: %d of 200 users on the 30 %% canary", rule, onCanary)
		}
	}
}

func TestErrorsCounted(t *testing.T) {
	r, h := newRouter(t, 50, "header:X-User", func(v string, req *http.Request) bool {
		return v == "v2" && req.URL.Path == "/x"
	})
	for u := range 100 {
		get(t, h, http.Header{"X-User": {fmt.Sprint(u)}})
	}
	st := r.Stats()
	if st.Canary.Errors != st.Canary.Requests || st.Canary.Requests == 0 || st.Live.Errors != 0 {
		t.Errorf("stats %+v: want every canary request failed, none of live's", st)
	}
	if got := st.Canary.ErrorRatio(); got != 1 {
		t.Errorf("canary error ratio %v, want 1", got)
	}
}

func TestUnreachableVersion(t *testing.T) {
	s := layout.RouterSettings{Live: "v1", Canary: "v2", Share: 100, Listeners: map[string]int32{"web": 1}}
	r, err := New(s, func(string, string) string { return "127.0.0.1:1" }) // nothing listens
	if err != nil {
		t.Fatal(err)
	}
	code, body := get(t, r.Listener("web"), nil)
	if code != http.StatusBadGateway || !strings.Contains(body, "version v2") {
		t.Errorf("status %d %q, want 502 naming version v2", code, body)
	}
	if st := r.Stats(); st.Canary.Errors != 1 {
		t.Errorf("stats %+v, want the failure counted", st)
	}
}

func TestBadSettings(t *testing.T) {
	for _, rule := range []string{"header:", "query:x", "cookie:a b", "X-User"} {
		if _, err := New(layout.RouterSettings{Sticky: rule}, nil); err == nil {
			t.Errorf("sticky %q accepted", rule)
		}
	}
}
