package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/state"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/logstore"
)

// stateHome makes a fresh state root with the given apps and returns it.
func stateHome(t *testing.T, apps ...string) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("XDG_STATE_HOME", home)
	t.Setenv("PILOTAGE_STATE_DIR", "")
	for _, a := range apps {
		if err := os.MkdirAll(filepath.Join(home, "pilotage", a), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(home, "pilotage")
}

func TestLogsArgs(t *testing.T) {
	stateHome(t, "shop")
	for _, tc := range []struct {
		args  []string
		app   string
		comps []string
	}{
		{nil, "", nil},
		{[]string{"shop"}, "shop", nil},
		{[]string{"catalog"}, "", []string{"catalog"}},
		{[]string{"catalog.Catalog/1"}, "", []string{"catalog.Catalog/1"}},
		{[]string{"bank", "catalog"}, "bank", []string{"catalog"}},
	} {
		app, comps, err := logsArgs(tc.args)
		if err != nil || app != tc.app || strings.Join(comps, ",") != strings.Join(tc.comps, ",") {
			t.Errorf("logsArgs(%q) = %q, %q, %v; want %q, %q", tc.args, app, comps, err, tc.app, tc.comps)
		}
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	if got, err := parseSince("5m", now); err != nil || !got.Equal(now.Add(-5*time.Minute)) {
		t.Errorf("5m: %v, %v", got, err)
	}
	if got, err := parseSince("2024-05-01T09:00:00Z", now); err != nil || !got.Equal(now.Add(-time.Hour)) {
		t.Errorf("RFC 3339: %v, %v", got, err)
	}
	if _, err := parseSince("yesterday", now); err == nil {
		t.Error("bad value accepted")
	}
}

func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestLogsCommand(t *testing.T) {
	root := stateHome(t, "shop")
	s, err := logstore.Open(filepath.Join(root, "shop", "logs"), logstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range [][2]string{{"catalog.Catalog/1", "one"}, {"redis", "two"}, {"catalog.Catalog/1", "three"}} {
		w := s.Writer(l[0])
		io.WriteString(w, l[1]+"\n")
		w.Close()
	}
	s.Close()

	out, errs, code := run(t, "logs")
	if code != 0 || out != "catalog.Catalog/1 | one\nredis             | two\ncatalog.Catalog/1 | three\n" {
		t.Errorf("logs: %d %q %q", code, out, errs)
	}
	out, errs, code = run(t, "logs", "shop", "catalog", "-n", "1")
	if code != 0 || out != "catalog.Catalog/1 | three\n" {
		t.Errorf("logs shop catalog -n 1: %d %q %q", code, out, errs)
	}
	out, errs, code = run(t, "logs", "-since", "1h", "redis")
	if code != 0 || out != "redis | two\n" {
		t.Errorf("logs -since 1h redis: %d %q %q", code, out, errs)
	}
	_, errs, code = run(t, "logs", "bank", "catalog")
	if code != 1 || !strings.Contains(errs, "pilotage logs: no app bank has state in "+root+"; these do:\n") {
		t.Errorf("logs bank catalog: %d %q", code, errs)
	}
	_, errs, code = run(t, "logs", "shop", "-bogus")
	if code != 2 || strings.Count(errs, "usage: pilotage logs") != 1 {
		t.Errorf("bad flag: %d %q", code, errs)
	}
}

// Logs of a running app are read from its files when its supervisor
// fails before the first line: of an earlier release (a plain-text 404),
// or failing otherwise.
func TestLogsFallBackToFiles(t *testing.T) {
	root := stateHome(t, "shop")
	dir := filepath.Join(root, "shop")
	s, err := logstore.Open(filepath.Join(dir, "logs"), logstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := s.Writer("redis")
	io.WriteString(w, "ready\n")
	w.Close()
	s.Close()
	lock, err := state.Lock(dir, "shop")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	failing := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		json.NewEncoder(w).Encode(api.ErrorBody{Error: api.NewError(api.CodeInternal, "broken")})
	})
	for name, h := range map[string]http.Handler{"older": http.NotFoundHandler(), "failing": failing} {
		sock := filepath.Join(dir, control.SocketName)
		os.Remove(sock)
		ln, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: h}
		go srv.Serve(ln)
		out, errs, code := run(t, "logs", "shop")
		srv.Close()
		if code != 0 || out != "redis | ready\n" {
			t.Errorf("logs of a running app whose supervisor is %s: %d %q %q", name, code, out, errs)
		}
	}
}
