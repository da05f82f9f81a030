package appfs

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// collectLogs returns the lines of the logs of p.
func collectLogs(t *testing.T, f tree.FS, p string, opts tree.LogOptions) []tree.LogLine {
	t.Helper()
	var lines []tree.LogLine
	if err := f.Logs(testContext(t), p, opts, func(l tree.LogLine) error { lines = append(lines, l); return nil }); err != nil {
		t.Fatalf("logs %s: %v", p, err)
	}
	return lines
}

func TestLogs(t *testing.T) {
	a := shared(t)
	f := newFS(t, a.root)
	// Each replica of a.A said hello: the lines carry their paths.
	want := map[string]string{
		"hello from a.A/0": "/apps/shop/components/a.A/replicas/0",
		"hello from a.A/1": "/apps/shop/components/a.A/replicas/1",
	}
	seen := map[string]bool{}
	for _, l := range collectLogs(t, f, "/apps/shop/components/a.A", tree.LogOptions{}) {
		if p, ok := want[l.Text]; ok {
			seen[l.Text] = true
			if l.Path != p || l.Time.IsZero() {
				t.Errorf("line %q: path %s, time %v; want path %s", l.Text, l.Path, l.Time, p)
			}
		}
		if strings.Contains(l.Text, "b.B/") {
			t.Errorf("logs of a.A hold %q", l.Text)
		}
	}
	if len(seen) != 2 {
		t.Errorf("logs of a.A: saw %v of the two hellos", seen)
	}
	// The app's: every replica's, and the supervisor's own as the app's.
	paths := map[string]bool{}
	for _, l := range collectLogs(t, f, "/apps/shop", tree.LogOptions{}) {
		paths[l.Path] = true
	}
	for _, p := range []string{"/apps/shop", "/apps/shop/components/a.A/replicas/0", "/apps/shop/components/b.B/replicas/0", "/apps/shop/units/sleeper/replicas/0"} {
		if !paths[p] {
			t.Errorf("logs of the app: no line of %s (paths: %v)", p, paths)
		}
	}
	// One replica's, the last line only.
	lines := collectLogs(t, f, "/apps/shop/components/a.A/replicas/1/logs", tree.LogOptions{Tail: 1})
	if len(lines) != 1 || lines[0].Path != "/apps/shop/components/a.A/replicas/1" {
		t.Errorf("logs -n 1 of replicas/1/logs = %+v", lines)
	}
	// Following ends with the context, without an error.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	n := 0
	if err := f.Logs(ctx, "/apps/shop/units/sleeper", tree.LogOptions{Follow: true}, func(tree.LogLine) error { n++; return nil }); err != nil || n == 0 {
		t.Errorf("logs -f of the unit = %v after %d lines", err, n)
	}
	if err := f.Logs(testContext(t), "/apps/shop/config", tree.LogOptions{}, func(tree.LogLine) error { return nil }); !errors.Is(err, tree.ErrNotSupported) {
		t.Errorf("logs of config = %v, want ErrNotSupported", err)
	}
}
