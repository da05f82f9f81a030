package kubefs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kubetest"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// testTimeout bounds each step against the real API server; generous,
// the machine is shared.
const testTimeout = 60 * time.Second

// A testCluster is a real API server and an FS on its kubeconfig.
type testCluster struct {
	*kubetest.Cluster
	fs    *FS
	admin kubernetes.Interface
	dyn   dynamic.Interface
}

func startCluster(t *testing.T) *testCluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a kube-apiserver")
	}
	c := kubetest.Start(t)
	dyn, err := dynamic.NewForConfig(c.Config(kubetest.Admin))
	if err != nil {
		t.Fatal(err)
	}
	tc := &testCluster{Cluster: c, fs: newFS(t, Options{Kubeconfig: c.Kubeconfig}), admin: c.Clientset(t, kubetest.Admin), dyn: dyn}
	// No controller-manager runs: make the service account the
	// ServiceAccount admission plugin wants for pods.
	tc.serviceAccount(t, "default")
	return tc
}

func (tc *testCluster) serviceAccount(t testing.TB, ns string) {
	t.Helper()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}
	if _, err := tc.admin.CoreV1().ServiceAccounts(ns).Create(context.Background(), sa, metav1.CreateOptions{}); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("create service account in %s: %v", ns, err)
	}
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

func names(nodes []tree.Node) []string {
	var s []string
	for _, n := range nodes {
		s = append(s, n.Name)
	}
	return s
}

// eventually calls f until it returns nil, failing the test with its last
// error after testTimeout.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestKubeFS(t *testing.T) {
	tc := startCluster(t)
	t.Run("Discovery", tc.testDiscovery)
	t.Run("CRDAppears", tc.testCRDAppears)
	t.Run("ReadWrite", tc.testReadWrite)
	t.Run("Forbidden", tc.testForbidden)
	t.Run("Vanished", tc.testVanished)
	t.Run("Secret", tc.testSecret)
	t.Run("NoRequestAfterSync", tc.testNoRequestAfterSync)
	t.Run("PodWithoutNode", tc.testPodWithoutNode)
	t.Run("Watch", tc.testWatch)
	t.Run("Deployment", tc.testDeployment)
}

func (tc *testCluster) testDiscovery(t *testing.T) {
	ctx := testContext(t)
	nodes, err := tc.fs.List(ctx, "/kube/admin/namespaces/default")
	if err != nil {
		t.Fatal(err)
	}
	got := names(nodes)
	for _, want := range []string{"pods", "configmaps", "deployments", "secrets", "events", "events.events.k8s.io"} {
		if !slices.Contains(got, want) {
			t.Errorf("namespaces/default lacks %s: %v", want, got)
		}
	}
	for _, absent := range []string{"nodes", "namespaces", "bindings", "pods/log"} {
		if slices.Contains(got, absent) {
			t.Errorf("namespaces/default has %s: %v", absent, got)
		}
	}
	if !slices.IsSorted(got) {
		t.Errorf("not sorted: %v", got)
	}
	n, err := tc.fs.Stat(ctx, "/kube/admin/namespaces/default/deployments.apps")
	if err != nil || !n.Dir || !strings.Contains(n.Info, "Deployment (apps/v1)") {
		t.Errorf("Stat deployments.apps = %+v, %v", n, err)
	}
	cluster, err := tc.fs.List(ctx, "/kube/admin/cluster")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"nodes", "customresourcedefinitions", "clusterroles"} {
		if !slices.Contains(names(cluster), want) {
			t.Errorf("cluster lacks %s: %v", want, names(cluster))
		}
	}
	if slices.Contains(names(cluster), "namespaces") {
		t.Errorf("cluster has namespaces: %v", names(cluster))
	}
	nss, err := tc.fs.List(ctx, "/kube/admin/namespaces")
	if err != nil || !slices.Contains(names(nss), "default") || !slices.Contains(names(nss), "kube-system") {
		t.Fatalf("List namespaces = %v, %v", names(nss), err)
	}
	for _, n := range nss {
		if n.Kind != "Namespace" || !n.Dir || !n.Readable || n.State != "Active" {
			t.Errorf("namespace node %+v", n)
		}
	}
	_, err = tc.fs.Stat(ctx, "/kube/admin/namespaces/default/nosuchthings")
	if !errors.Is(err, tree.ErrNotFound) || !strings.Contains(err.Error(), "no resource type nosuchthings in context admin") {
		t.Errorf("Stat of an unknown resource type = %v", err)
	}
	_, err = tc.fs.Stat(ctx, "/kube/admin/namespaces/default/nodes")
	if !errors.Is(err, tree.ErrNotFound) || !strings.Contains(err.Error(), "cluster-scoped") {
		t.Errorf("Stat of a cluster-scoped type in a namespace = %v", err)
	}
	_, err = tc.fs.List(ctx, "/kube/admin/namespaces/nosuchns/pods")
	if !errors.Is(err, tree.ErrNotFound) || !strings.Contains(err.Error(), "no namespace nosuchns") {
		t.Errorf("List in a missing namespace = %v", err)
	}
	cr, err := tc.fs.Read(ctx, "/kube/admin/cluster/clusterroles/system:basic-user", tree.ReadOptions{})
	if err != nil || cr.Value.(map[string]any)["kind"] != "ClusterRole" {
		t.Errorf("Read a clusterrole = %v, %v", cr.Value, err)
	}
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

func (tc *testCluster) testCRDAppears(t *testing.T) {
	ctx := testContext(t)
	// The FS has listed resource types already (Discovery): the CRD is
	// created after.
	if _, err := tc.fs.List(ctx, "/kube/admin/namespaces/default"); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.fs.List(ctx, "/kube/admin/cluster/customresourcedefinitions"); err != nil {
		t.Fatal(err)
	}
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": "widgets.example.com"},
		"spec": map[string]any{
			"group": "example.com",
			"scope": "Namespaced",
			"names": map[string]any{"plural": "widgets", "singular": "widget", "kind": "Widget"},
			"versions": []any{map[string]any{
				"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{
					"type": "object", "x-kubernetes-preserve-unknown-fields": true,
				}},
			}},
		},
	}}
	if _, err := tc.dyn.Resource(crdGVR).Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the CRD in cluster/customresourcedefinitions", func() error {
		nodes, err := tc.fs.List(ctx, "/kube/admin/cluster/customresourcedefinitions")
		if err != nil {
			return err
		}
		if !slices.Contains(names(nodes), "widgets.example.com") {
			return fmt.Errorf("not listed: %v", names(nodes))
		}
		return nil
	})
	eventually(t, "the widgets resource type", func() error {
		_, err := tc.fs.Stat(ctx, "/kube/admin/namespaces/default/widgets")
		return err
	})
	widget := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "example.com/v1", "kind": "Widget",
		"metadata": map[string]any{"name": "w1"}, "size": 3,
	}}
	wgvr := schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}
	if _, err := tc.dyn.Resource(wgvr).Namespace("default").Create(ctx, widget, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the widget listed", func() error {
		nodes, err := tc.fs.List(ctx, "/kube/admin/namespaces/default/widgets")
		if err != nil {
			return err
		}
		if len(nodes) != 1 || nodes[0].Name != "w1" || nodes[0].Kind != "Widget" || !nodes[0].Editable {
			return fmt.Errorf("widgets = %+v", nodes)
		}
		return nil
	})
	// A listing of the namespace shows it too, after the background
	// refresh.
	eventually(t, "widgets in the namespace's listing", func() error {
		nodes, err := tc.fs.List(ctx, "/kube/admin/namespaces/default")
		if err != nil {
			return err
		}
		if !slices.Contains(names(nodes), "widgets") {
			return fmt.Errorf("not listed: %v", names(nodes))
		}
		return nil
	})
}

func (tc *testCluster) createConfigMap(t *testing.T, name string, data map[string]string) {
	t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: data}
	if _, err := tc.admin.CoreV1().ConfigMaps("default").Create(context.Background(), cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (tc *testCluster) testReadWrite(t *testing.T) {
	ctx := testContext(t)
	tc.createConfigMap(t, "rw", map[string]string{"a": "1"})
	const p = "/kube/admin/namespaces/default/configmaps/rw"
	c, err := tc.fs.Read(ctx, p, tree.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	obj := c.Value.(map[string]any)
	md := obj["metadata"].(map[string]any)
	if c.Version == "" || md["resourceVersion"] != c.Version || md["managedFields"] != nil || c.Redacted {
		t.Errorf("Read = version %q, metadata %v, redacted %v", c.Version, md, c.Redacted)
	}
	obj["data"].(map[string]any)["a"] = "2"
	value, _ := json.Marshal(obj)
	v2, err := tc.fs.Write(ctx, p, value, c.Version)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tc.admin.CoreV1().ConfigMaps("default").Get(ctx, "rw", metav1.GetOptions{})
	if err != nil || got.Data["a"] != "2" || got.ResourceVersion != v2 {
		t.Errorf("after Write: %v at %s (Write said %s), %v", got.Data, got.ResourceVersion, v2, err)
	}

	// A write at the version read before the first write.
	_, err = tc.fs.Write(ctx, p, value, c.Version)
	if !errors.Is(err, tree.ErrConflict) || !strings.HasPrefix(err.Error(), p+": ") || strings.Contains(err.Error(), "\n") {
		t.Errorf("Write with a stale version = %v; want one line, a conflict", err)
	}

	obj["data"] = map[string]any{"not a valid key!": "x"}
	value, _ = json.Marshal(obj)
	_, err = tc.fs.Write(ctx, p, value, v2)
	if !errors.Is(err, tree.ErrInvalid) || !strings.Contains(err.Error(), "not a valid key!") || strings.Contains(err.Error(), "\n") {
		t.Errorf("invalid Write = %v; want one line, invalid, saying why", err)
	}
	_, err = tc.fs.Write(ctx, p, json.RawMessage(`{"metadata":{"name":"other"}}`), "")
	if !errors.Is(err, tree.ErrInvalid) {
		t.Errorf("Write of another name = %v", err)
	}
	// Without a version: whatever it is.
	if _, err := tc.fs.Write(ctx, p, json.RawMessage(`{"data":{"b":"3"}}`), ""); err != nil {
		t.Errorf("unconditional Write: %v", err)
	}
	if err := tc.fs.Remove(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.admin.CoreV1().ConfigMaps("default").Get(ctx, "rw", metav1.GetOptions{}); err == nil {
		t.Error("configmap still there after Remove")
	}
}

func (tc *testCluster) testForbidden(t *testing.T) {
	ctx := testContext(t)
	pods, err := tc.fs.List(ctx, "/kube/viewer/namespaces/default/pods")
	if err != nil {
		t.Fatalf("viewer List pods: %v", err)
	}
	_ = pods
	if n, err := tc.fs.Stat(ctx, "/kube/viewer/namespaces/default"); err != nil || !n.Dir {
		t.Errorf("viewer Stat of its namespace = %+v, %v", n, err)
	}
	const p = "/kube/viewer/namespaces/default/secrets"
	_, err = tc.fs.List(ctx, p)
	if !errors.Is(err, tree.ErrForbidden) || !strings.HasPrefix(err.Error(), p+": ") || strings.Contains(err.Error(), "\n") ||
		!strings.Contains(err.Error(), `cannot list resource "secrets"`) {
		t.Errorf("viewer List secrets = %q; want one line, forbidden, naming the verb and resource", err)
	}
	// Not cached: a second try asks again, and is refused again.
	if _, err := tc.fs.List(ctx, p); !errors.Is(err, tree.ErrForbidden) {
		t.Errorf("viewer List secrets again = %v", err)
	}
	_, err = tc.fs.List(ctx, "/kube/viewer/namespaces")
	if !errors.Is(err, tree.ErrForbidden) {
		t.Errorf("viewer List namespaces = %v", err)
	}
	_, err = tc.fs.Write(ctx, "/kube/viewer/namespaces/default/configmaps/x", json.RawMessage(`{"data":{}}`), "")
	if !errors.Is(err, tree.ErrForbidden) || strings.Contains(err.Error(), "\n") {
		t.Errorf("viewer Write = %v", err)
	}
}

func (tc *testCluster) testVanished(t *testing.T) {
	ctx := testContext(t)
	tc.createConfigMap(t, "gone", nil)
	const p = "/kube/admin/namespaces/default/configmaps/gone"
	eventually(t, "the configmap in the cache", func() error {
		_, err := tc.fs.Stat(ctx, p)
		return err
	})
	if err := tc.admin.CoreV1().ConfigMaps("default").Delete(ctx, "gone", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// Read is a fresh GET: it knows at once.
	_, err := tc.fs.Read(ctx, p, tree.ReadOptions{})
	if !errors.Is(err, tree.ErrNotFound) || !strings.HasPrefix(err.Error(), p+": ") {
		t.Errorf("Read of a vanished object = %v", err)
	}
	_, err = tc.fs.Write(ctx, p, json.RawMessage(`{"data":{}}`), "1")
	if !errors.Is(err, tree.ErrNotFound) && !errors.Is(err, tree.ErrConflict) {
		t.Errorf("Write of a vanished object = %v", err)
	}
	if err := tc.fs.Remove(ctx, p); !errors.Is(err, tree.ErrNotFound) {
		t.Errorf("Remove of a vanished object = %v", err)
	}
	eventually(t, "the cache to forget it", func() error {
		if _, err := tc.fs.Stat(ctx, p); !errors.Is(err, tree.ErrNotFound) {
			return fmt.Errorf("Stat = %v", err)
		}
		return nil
	})
}

func (tc *testCluster) testSecret(t *testing.T) {
	ctx := testContext(t)
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds"}, Data: map[string][]byte{"password": []byte("hunter2")}}
	if _, err := tc.admin.CoreV1().Secrets("default").Create(ctx, s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const p = "/kube/admin/namespaces/default/secrets/creds"
	c, err := tc.fs.Read(ctx, p, tree.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Redacted || c.Value.(map[string]any)["data"].(map[string]any)["password"] != "<redacted: 7 bytes>" {
		t.Errorf("Read of a secret = %v, redacted %v", c.Value, c.Redacted)
	}
	value, _ := json.Marshal(c.Value)
	if _, err := tc.fs.Write(ctx, p, value, c.Version); !errors.Is(err, tree.ErrInvalid) {
		t.Errorf("Write of the redacted secret = %v; want refused", err)
	}
	c, err = tc.fs.Read(ctx, p, tree.ReadOptions{Reveal: true})
	if err != nil {
		t.Fatal(err)
	}
	if c.Redacted || c.Value.(map[string]any)["data"].(map[string]any)["password"] != "aHVudGVyMg==" {
		t.Errorf("revealed Read = %v, redacted %v", c.Value, c.Redacted)
	}
}

func (tc *testCluster) testNoRequestAfterSync(t *testing.T) {
	ctx := testContext(t)
	for i := range 3 {
		tc.createConfigMap(t, fmt.Sprintf("count-%d", i), nil)
	}
	var requests counter
	fs := newFS(t, Options{Kubeconfig: tc.Kubeconfig, WrapTransport: requests.wrap})
	const dir = "/kube/admin/namespaces/default/configmaps"
	first, err := fs.List(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names(first), "count-2") {
		t.Fatalf("List = %v", names(first))
	}
	if _, err := fs.List(ctx, "/kube/admin/namespaces/default"); err != nil {
		t.Fatal(err)
	}
	// Let the informers' watches start: they are opened once, after the
	// first list.
	time.Sleep(2 * time.Second)
	before := requests.n.Load()
	for range 20 {
		if _, err := fs.List(ctx, dir); err != nil {
			t.Fatal(err)
		}
		if _, err := fs.Stat(ctx, dir+"/count-1"); err != nil {
			t.Fatal(err)
		}
		if _, err := fs.List(ctx, "/kube/admin/namespaces/default"); err != nil { // Tab completion
			t.Fatal(err)
		}
	}
	if n := requests.n.Load() - before; n != 0 {
		t.Errorf("%d requests for Lists and Stats after the informer synced (%d before); want 0", n, before)
	}
}

func (tc *testCluster) createPod(t testing.TB, ns, name string) {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox", Command: []string{"sleep", "3600"}}}},
	}
	if _, err := tc.admin.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod %s/%s: %v", ns, name, err)
	}
}

func (tc *testCluster) testPodWithoutNode(t *testing.T) {
	ctx := testContext(t)
	tc.createPod(t, "default", "pending")
	const p = "/kube/admin/namespaces/default/pods/pending"
	var pod tree.Node
	eventually(t, "the pod listed", func() error {
		var err error
		pod, err = tc.fs.Stat(ctx, p)
		return err
	})
	if pod.Kind != "Pod" || !pod.Dir || !pod.Logs || !pod.Exec || pod.State != "Pending" || pod.Ready != "0/1" {
		t.Errorf("pod node = %+v", pod)
	}
	cs, err := tc.fs.List(ctx, p+"/containers")
	if err != nil || len(cs) != 1 || cs[0].Name != "app" || cs[0].Path != p+"/containers/app" || !cs[0].Exec || cs[0].Info != "busybox" {
		t.Errorf("containers = %+v, %v", cs, err)
	}
	c, err := tc.fs.Read(ctx, p+"/containers/app", tree.ReadOptions{})
	if err != nil || c.Value.(map[string]any)["image"] != "busybox" {
		t.Errorf("Read container = %v, %v", c.Value, err)
	}
	if _, err := tc.fs.Stat(ctx, p+"/containers/nope"); !errors.Is(err, tree.ErrNotFound) {
		t.Errorf("Stat of a missing container = %v", err)
	}

	for _, target := range []string{p, p + "/containers/app"} {
		start := time.Now()
		err := tc.fs.Logs(ctx, target, tree.LogOptions{Follow: true}, func(tree.LogLine) error { return nil })
		if !errors.Is(err, tree.ErrUnavailable) || !strings.Contains(err.Error(), "not on a node") || strings.Contains(err.Error(), "\n") {
			t.Errorf("Logs of %s = %v; want one line saying it is not on a node", target, err)
		}
		_, err = tc.fs.Exec(ctx, target, tree.ExecRequest{Command: []string{"true"}, Stdout: &strings.Builder{}})
		if !errors.Is(err, tree.ErrUnavailable) || !strings.Contains(err.Error(), "not on a node") {
			t.Errorf("Exec in %s = %v; want one line saying it is not on a node", target, err)
		}
		if d := time.Since(start); d > testTimeout/2 {
			t.Errorf("Logs and Exec took %v to fail", d)
		}
	}
	// Past the check, the API server's own answers: an empty log (hence
	// the check), and an exec refused in one line, not a hang.
	cl, err := tc.fs.cluster(p, "admin")
	if err != nil {
		t.Fatal(err)
	}
	stub := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pending", Namespace: "default"}}
	var lines int
	err = cl.streamLogs(ctx, stub, logSource{"app", p + "/containers/app"}, tree.LogOptions{}, func(tree.LogLine) error { lines++; return nil })
	if err != nil || lines != 0 {
		t.Errorf("the API server's logs of a pod without a node: %d lines, %v; want none", lines, err)
	}
	start := time.Now()
	_, err = cl.exec(ctx, p, stub, "app", tree.ExecRequest{Command: []string{"true"}, Stdout: &strings.Builder{}})
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), p+": ") {
		t.Errorf("the API server's exec in a pod without a node = %v; want one line", err)
	} else {
		t.Logf("exec past the check: %v (in %v)", err, time.Since(start).Round(time.Millisecond))
	}
	if _, err := tc.fs.Exec(ctx, "/kube/admin/namespaces/default/configmaps/x", tree.ExecRequest{Command: []string{"true"}}); !errors.Is(err, tree.ErrNotSupported) {
		t.Errorf("Exec in a configmap = %v", err)
	}
}

func (tc *testCluster) testWatch(t *testing.T) {
	ctx := testContext(t)
	const dir = "/kube/admin/namespaces/default/configmaps"
	events := make(chan tree.Event, 16)
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	var werr error
	go func() {
		defer wg.Done()
		werr = tc.fs.Watch(wctx, dir, func(e tree.Event) {
			if strings.HasPrefix(e.Node.Name, "watched") {
				events <- e
			}
		})
	}()
	// The Watch starts meanwhile; create until an event comes.
	var got tree.Event
	for i := 0; ; i++ {
		tc.createConfigMap(t, fmt.Sprintf("watched-%d", i), nil)
		select {
		case got = <-events:
		case <-time.After(2 * time.Second):
			if i < 10 {
				continue
			}
			t.Fatal("no event")
		}
		break
	}
	if got.Type != tree.Added || got.Node.Path != dir+"/"+got.Node.Name || got.Node.Kind != "ConfigMap" {
		t.Errorf("event = %+v", got)
	}
	if err := tc.admin.CoreV1().ConfigMaps("default").Delete(ctx, got.Node.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for e := range events {
		if e.Type == tree.Deleted && e.Node.Name == got.Node.Name {
			break
		}
	}
	stop()
	wg.Wait()
	if werr != nil {
		t.Errorf("Watch ended with %v", werr)
	}
}

func (tc *testCluster) testDeployment(t *testing.T) {
	ctx := testContext(t)
	d := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web"},
		"spec": map[string]any{
			"replicas": 2,
			"selector": map[string]any{"matchLabels": map[string]any{"app": "web"}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": "web"}},
				"spec":     map[string]any{"containers": []any{map[string]any{"name": "app", "image": "busybox"}}},
			},
		},
	}}
	gvr := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	if _, err := tc.dyn.Resource(gvr).Namespace("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the deployment listed", func() error {
		nodes, err := tc.fs.List(ctx, "/kube/admin/namespaces/default/deployments")
		if err != nil {
			return err
		}
		if len(nodes) != 1 || nodes[0].Ready != "0/2" || nodes[0].State != "Progressing" || nodes[0].Created.IsZero() {
			return fmt.Errorf("deployments = %+v", nodes)
		}
		return nil
	})
}
