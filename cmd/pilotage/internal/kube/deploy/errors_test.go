package deploy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Bad input and an unreachable cluster each get one clear line, before
// anything is built.
func TestDeployErrors(t *testing.T) {
	dir := t.TempDir()
	unreachable := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(unreachable, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`), 0o600); err != nil {
		t.Fatal(err)
	}
	app := filepath.Join(dir, "app")
	if err := os.MkdirAll(app, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", "")
	t.Setenv("HOME", dir) // no ~/.kube/config
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"no registry", Options{Dir: app}, "no registry to push app's image to: set [kube] registry in pilotage.toml, or pass --registry"},
		{"no kubeconfig", Options{Dir: app, Registry: "localhost:5000"}, "no kubeconfig: set $KUBECONFIG, or pass --kubeconfig"},
		{"unreachable", Options{Dir: app, Registry: "localhost:5000", Target: Target{Kubeconfig: unreachable}}, `cluster https://127.0.0.1:1 (context "x"): the cluster does not answer`},
		{"bad canary", Options{Dir: app, Registry: "localhost:5000", Canary: 80}, "--canary 80: a canary's share is 1 to 50 percent"},
		{"sticky without canary", Options{Dir: app, Registry: "localhost:5000", Sticky: "header:X-User"}, "--sticky keeps clients on one version of a canary: it needs --canary"},
		{"bad sticky", Options{Dir: app, Registry: "localhost:5000", Canary: 10, Sticky: "query:user"}, `--sticky "query:user": want header:<name> or cookie:<name>`},
	} {
		_, err := Deploy(context.Background(), tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Count(err.Error(), "\n") > 0 {
			t.Errorf("%s: %v; want one line with %q", tc.name, err, tc.want)
		}
	}
}
