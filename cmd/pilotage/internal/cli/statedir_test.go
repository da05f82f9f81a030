package cli

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/state"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/logstore"
)

// newApp gives the app name built from source a state directory, as
// "pilotage run" does, with one log line of catalog.Catalog/0 saying line.
func newApp(t *testing.T, name, source, line string) string {
	t.Helper()
	dir, err := state.StateDir(name, source)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(source, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := state.PrepareDir(dir); err != nil {
		t.Fatal(err)
	}
	if err := state.WriteAppInfo(dir, state.AppInfo{Name: name, Dir: source}); err != nil {
		t.Fatal(err)
	}
	s, err := logstore.Open(filepath.Join(dir, "logs"), logstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := s.Writer("catalog.Catalog/0")
	io.WriteString(w, line+"\n")
	w.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// spaces collapses the aligned columns of an app table.
var spaces = regexp.MustCompile(` +`)

// Two checkouts of one app keep their logs apart: "pilotage logs" shows
// those of the checkout it runs in, and elsewhere lists both.
func TestLogsOfCurrentDirApp(t *testing.T) {
	stateHome(t)
	src := t.TempDir()
	srcA, srcB := filepath.Join(src, "a", "shop"), filepath.Join(src, "b", "shop")
	dirA := newApp(t, "shop", srcA, "from a")
	newApp(t, "shop", srcB, "from b")
	if err := os.MkdirAll(filepath.Join(srcA, "catalog"), 0o700); err != nil {
		t.Fatal(err)
	}

	t.Chdir(filepath.Join(srcA, "catalog"))
	if out, errs, code := run(t, "logs", "catalog"); code != 0 || out != "catalog.Catalog/0 | from a\n" {
		t.Errorf("logs catalog in checkout a: %d %q %q", code, out, errs)
	}
	t.Chdir(srcB)
	if out, errs, code := run(t, "logs", "shop", "catalog"); code != 0 || out != "catalog.Catalog/0 | from b\n" {
		t.Errorf("logs shop catalog in checkout b: %d %q %q", code, out, errs)
	}
	t.Chdir(src)
	_, errs, code := run(t, "logs", "catalog")
	if want := "2 apps have state; name one"; code != 1 || !strings.Contains(errs, want) ||
		!strings.Contains(spaces.ReplaceAllString(errs, " "), filepath.Base(dirA)+" shop stopped "+srcA+"\n") {
		t.Errorf("logs catalog elsewhere: %d %q; want the list of both apps", code, errs)
	}
	if out, errs, code := run(t, "logs", filepath.Base(dirA), "catalog"); code != 0 || out != "catalog.Catalog/0 | from a\n" {
		t.Errorf("logs <id of a> catalog: %d %q %q", code, out, errs)
	}
}

// Once a second app has state, "pilotage logs -f catalog" still shows the
// logs of the one that runs.
func TestLogsOfOnlyRunningApp(t *testing.T) {
	stateHome(t)
	src := t.TempDir()
	newApp(t, "bank", filepath.Join(src, "bank"), "bank's")
	shop := newApp(t, "shop", filepath.Join(src, "shop"), "shop's")
	lock, err := state.Lock(shop, "shop")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	t.Chdir(src)
	if out, errs, code := run(t, "logs", "catalog"); code != 0 || out != "catalog.Catalog/0 | shop's\n" {
		t.Errorf("logs catalog: %d %q %q", code, out, errs)
	}
}

// With two checkouts of one app running, status talks to the one of the
// current directory, or to the one named by its ID, and elsewhere lists
// both.
func TestStatusPicksApp(t *testing.T) {
	stateHome(t)
	src := t.TempDir()
	srcA, srcB := filepath.Join(src, "a"), filepath.Join(src, "b")
	var dirs []string
	for _, s := range []string{srcA, srcB} {
		dir := newApp(t, "shop", s, "")
		lock, err := state.Lock(dir, "shop")
		if err != nil {
			t.Fatal(err)
		}
		defer lock.Close()
		srv, err := control.Listen(dir, startupBackend(t, dir, nil), control.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		dirs = append(dirs, dir)
	}
	status := func(args ...string) (string, string, int) {
		return run(t, append([]string{"status", "-json"}, args...)...)
	}
	t.Chdir(srcB)
	if out, errs, code := status(); code != 0 || !strings.Contains(out, `"state_dir": "`+dirs[1]+`"`) {
		t.Errorf("status in b: %d %q %q", code, out, errs)
	}
	t.Chdir(src)
	if out, errs, code := status(filepath.Base(dirs[0])); code != 0 || !strings.Contains(out, `"state_dir": "`+dirs[0]+`"`) {
		t.Errorf("status <id of a>: %d %q %q", code, out, errs)
	}
	_, errs, code := status()
	if code != 1 || !strings.Contains(errs, "pilotage status: 2 apps are running; name one") ||
		!strings.Contains(spaces.ReplaceAllString(errs, " "), filepath.Base(dirs[1])+" shop running (pid ") {
		t.Errorf("status elsewhere: %d %q", code, errs)
	}
}
