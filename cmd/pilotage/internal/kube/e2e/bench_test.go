package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kubetest"
)

// BenchmarkDeployVsKubectl deploys the example shop to a new namespace
// with "pilotage deploy" (build, image push, apply, wait until every
// group is ready and the listener routes), and applies the same objects,
// written as manifests, to another with "kubectl apply" followed by
// "kubectl wait" until every Deployment is Available, alternately, b.N
// times each. It reports both times and their ratio (goal: at most
// 1.2), and the ratio of the rounds after the first: the first builds
// and pushes what the later ones find in Go's build cache, pilotage's
// caches and the registry, as a developer's loop does. "unchanged"
// deploys the shop as it is; "edited" a copy of it whose main package
// changes before each round, as after an edit: the binary is linked
// again and its layer pushed and pulled.
//
//	PILOTAGE_KUBE_E2E=1 go test -run '^$' -bench DeployVsKubectl -benchtime 5x ./cmd/pilotage/internal/kube/e2e/
func BenchmarkDeployVsKubectl(b *testing.B) {
	c := kubetest.FullClusterFor(b)
	b.Run("unchanged", func(b *testing.B) { benchDeploy(b, c, func(int) string { return shopDir }) })
	b.Run("edited", func(b *testing.B) {
		dir := copyShop(b)
		benchDeploy(b, c, func(round int) string {
			edit := fmt.Sprintf("package main\n\n// Written by BenchmarkDeployVsKubectl.\nvar benchRound = %d\n\nfunc init() { _ = benchRound }\n", round)
			if err := os.WriteFile(filepath.Join(dir, "bench_round.go"), []byte(edit), 0o644); err != nil {
				b.Fatal(err)
			}
			return dir
		})
	})
}

// benchDeploy runs BenchmarkDeployVsKubectl's rounds, deploying the app
// in the directory that dir returns for each.
func benchDeploy(b *testing.B, c *kubetest.FullCluster, dir func(round int) string) {
	cs := c.Clientset(b)
	manifests := ""
	var ours, theirs, oursWarm, theirsWarm time.Duration
	for i := 0; b.Loop(); i++ {
		app := dir(i)
		ns := namespace(b, cs, fmt.Sprintf("bench-pilotage-%d", i))
		begin := time.Now()
		cmd := exec.Command(pilotageBinary(b), "deploy", "--namespace", ns, "--registry", c.Registry, app)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+c.Kubeconfig)
		if app != shopDir {
			cmd.Env = append(cmd.Env, "GOWORK=off")
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("pilotage deploy: %v\n%s", err, out)
		}
		mine := time.Since(begin)
		ours += mine
		if manifests == "" {
			manifests = writeManifests(b, c, ns)
		}
		removeNamespace(b, cs, ns)

		ns = namespace(b, cs, fmt.Sprintf("bench-kubectl-%d", i))
		begin = time.Now()
		file := filepath.Join(b.TempDir(), "shop.yaml")
		if err := os.WriteFile(file, []byte(strings.ReplaceAll(manifests, nsPlaceholder, ns)), 0o644); err != nil {
			b.Fatal(err)
		}
		kubectl := filepath.Join(c.Bin, "kubectl")
		for _, args := range [][]string{
			{"apply", "-n", ns, "-f", file},
			{"wait", "-n", ns, "--for=condition=Available", "--timeout=3m", "deployment", "--all"},
		} {
			cmd := exec.Command(kubectl, append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("kubectl %s: %v\n%s", args[0], err, out)
			}
		}
		kubectlTime := time.Since(begin)
		theirs += kubectlTime
		if i > 0 {
			oursWarm += mine
			theirsWarm += kubectlTime
		}
		b.Logf("round %d: pilotage deploy %.2fs, kubectl apply + wait %.2fs: %.2f", i+1, mine.Seconds(), kubectlTime.Seconds(), mine.Seconds()/kubectlTime.Seconds())
		removeNamespace(b, cs, ns)
	}
	n := float64(b.N)
	b.ReportMetric(ours.Seconds()/n, "pilotage-s/op")
	b.ReportMetric(theirs.Seconds()/n, "kubectl-s/op")
	b.ReportMetric(ours.Seconds()/theirs.Seconds(), "ratio")
	if theirsWarm > 0 {
		b.ReportMetric(oursWarm.Seconds()/theirsWarm.Seconds(), "warm-ratio")
	}
}

// copyShop copies the example shop into a directory of its own, a module
// that finds pilotage's where the shop does.
func copyShop(b *testing.B) string {
	b.Helper()
	dir := filepath.Join(b.TempDir(), "shop")
	if err := os.CopyFS(dir, os.DirFS(shopDir)); err != nil {
		b.Fatal(err)
	}
	root, err := filepath.Abs(filepath.Join(shopDir, "../.."))
	if err != nil {
		b.Fatal(err)
	}
	mod := filepath.Join(dir, "go.mod")
	data, err := os.ReadFile(mod)
	if err != nil {
		b.Fatal(err)
	}
	data = bytes.Replace(data, []byte("=> ../.."), []byte("=> "+root), 1)
	if err := os.WriteFile(mod, data, 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

// namespace creates a namespace for a benchmark round.
func namespace(b *testing.B, cs kubernetes.Interface, name string) string {
	b.Helper()
	name += "-" + fmt.Sprint(time.Now().UnixNano()%100000)
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	return name
}

// removeNamespace deletes ns and waits, off the clock, until its pods
// are gone: the node runs at most 110 pods, and the next round starts on
// an idle node.
func removeNamespace(b *testing.B, cs kubernetes.Interface, ns string) {
	b.Helper()
	b.StopTimer()
	defer b.StartTimer()
	ctx := context.Background()
	if err := cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err == nil && len(pods.Items) == 0 {
			return
		}
	}
	b.Fatalf("the pods of namespace %s are not gone after 2 minutes", ns)
}

// nsPlaceholder stands for the namespace in the manifests: where a
// RoleBinding names its ServiceAccount's.
const nsPlaceholder = "__namespace__"

// writeManifests returns the objects pilotage deployed in ns as
// hand-written manifests would be: without status, server-set metadata
// and namespace.
func writeManifests(b *testing.B, c *kubetest.FullCluster, ns string) string {
	b.Helper()
	cfg, err := c.Config()
	if err != nil {
		b.Fatal(err)
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	var out bytes.Buffer
	for _, r := range []schema.GroupVersionResource{
		{Version: "v1", Resource: "serviceaccounts"},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"},
		{Version: "v1", Resource: "configmaps"},
		{Version: "v1", Resource: "services"},
		{Group: "apps", Version: "v1", Resource: "deployments"},
	} {
		list, err := dc.Resource(r).Namespace(ns).List(context.Background(), metav1.ListOptions{LabelSelector: layout.LabelApp + "=shop"})
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range list.Items {
			if o.GetName() == layout.State("shop") {
				continue // pilotage's own record
			}
			clean(&o)
			y, err := yaml.Marshal(o.Object)
			if err != nil {
				b.Fatal(err)
			}
			out.WriteString("---\n")
			out.Write(y)
		}
	}
	b.Logf("manifests: %d objects, %d lines", strings.Count(out.String(), "---\n"), strings.Count(out.String(), "\n"))
	return out.String()
}

// clean removes what the server sets from o.
func clean(o *unstructured.Unstructured) {
	delete(o.Object, "status")
	for _, f := range []string{"namespace", "uid", "resourceVersion", "creationTimestamp", "generation", "managedFields"} {
		unstructured.RemoveNestedField(o.Object, "metadata", f)
	}
	unstructured.RemoveNestedField(o.Object, "metadata", "annotations", "deployment.kubernetes.io/revision")
	unstructured.RemoveNestedField(o.Object, "spec", "clusterIP")
	unstructured.RemoveNestedField(o.Object, "spec", "clusterIPs")
	if subjects, ok, _ := unstructured.NestedSlice(o.Object, "subjects"); ok {
		for _, s := range subjects {
			s.(map[string]any)["namespace"] = nsPlaceholder
		}
		_ = unstructured.SetNestedSlice(o.Object, subjects, "subjects")
	}
}
