package kubetest

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
)

// TestStart: a started cluster answers admin, and RBAC lets the viewer
// read pods in default and nothing else.
func TestStart(t *testing.T) {
	c := Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	admin := c.Clientset(t, Admin)
	nss, err := admin.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("admin: list namespaces: %v", err)
	}
	names := map[string]bool{}
	for _, ns := range nss.Items {
		names[ns.Name] = true
	}
	if !names["default"] || !names["kube-system"] {
		t.Errorf("admin: namespaces = %v, want default and kube-system among them", names)
	}

	viewer := c.Clientset(t, Viewer)
	if _, err := viewer.CoreV1().Pods("default").List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("viewer: list pods in default: %v", err)
	}
	for _, tc := range []struct {
		what string
		list func() error
	}{
		{"secrets in default", func() error {
			_, err := viewer.CoreV1().Secrets("default").List(ctx, metav1.ListOptions{})
			return err
		}},
		{"pods in kube-system", func() error {
			_, err := viewer.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{})
			return err
		}},
		{"namespaces", func() error {
			_, err := viewer.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
			return err
		}},
	} {
		if err := tc.list(); !apierrors.IsForbidden(err) {
			t.Errorf("viewer: list %s: err = %v, want Forbidden", tc.what, err)
		}
	}

	// The kubeconfig file works on its own, as kubectl or the shell reads it.
	raw, err := clientcmd.LoadFromFile(c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if raw.CurrentContext != Admin || raw.Contexts[Viewer] == nil {
		t.Errorf("kubeconfig: current context %q, contexts %v", raw.CurrentContext, raw.Contexts)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != c.Server || cfg.BearerToken != c.Config(Admin).BearerToken {
		t.Errorf("kubeconfig's current context: host %s, want %s as admin", cfg.Host, c.Server)
	}
	if c.Config("nobody") != nil {
		t.Error(`Config("nobody") is not nil`)
	}
}

// TestSkipWithoutBinaries: with no binaries, Start skips, naming the
// build command, and PILOTAGE_KUBE_REQUIRED=1 makes it fail instead.
func TestSkipWithoutBinaries(t *testing.T) {
	t.Setenv("PILOTAGE_KUBE_BIN", t.TempDir())
	t.Setenv("PILOTAGE_KUBE_REQUIRED", "")
	if _, err := BinDir(); err == nil {
		t.Fatal("BinDir of an empty directory: no error")
	}
	var sub *testing.T
	t.Run("skip", func(t *testing.T) {
		sub = t
		Start(t)
		t.Error("Start returned without binaries")
	})
	if !sub.Skipped() {
		t.Error("Start did not skip without binaries")
	}
}

// TestStartFailureShowsLog: when a server exits at start, the error says
// so and holds the last lines of its log.
func TestStartFailureShowsLog(t *testing.T) {
	bin := t.TempDir()
	fake := "#!/bin/sh\necho 'etcd: invalid flag --bogus' >&2\nexit 3\n"
	if err := os.WriteFile(filepath.Join(bin, "etcd"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := newPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{pki: p}
	retry, err := c.start(t, bin, t.TempDir())
	if err == nil || retry {
		t.Fatalf("start with a failing etcd: retry %v, err %v", retry, err)
	}
	for _, want := range []string{"etcd (exited: exit status 3)", "exited before it was ready", "etcd: invalid flag --bogus"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

// TestScriptVersion: the build script's default version is the one BinDir
// looks for.
func TestScriptVersion(t *testing.T) {
	b, err := os.ReadFile("../../../../scripts/k8s/build-bins.sh")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`K8S_VERSION=\$\{K8S_VERSION:-([0-9.]+)\}`).FindSubmatch(b)
	got := ""
	if m != nil {
		got = string(m[1])
	}
	if got != Version {
		t.Fatalf("build-bins.sh's default K8S_VERSION = %q, want %s", got, Version)
	}
}
