package kubefs

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

func TestParse(t *testing.T) {
	mount := []string{"kube"}
	for _, tc := range []struct {
		path string
		want loc
	}{
		{"/kube", loc{level: atMount}},
		{"/kube/kind-a", loc{level: atContext, context: "kind-a"}},
		{"/kube/a/namespaces", loc{level: atNamespaces, context: "a"}},
		{"/kube/a/namespaces/default", loc{level: atNamespace, context: "a", namespace: "default"}},
		{"/kube/a/namespaces/default/deployments.apps", loc{level: atResource, context: "a", namespace: "default", resource: "deployments.apps"}},
		{"/kube/a/namespaces/default/pods/web-1", loc{level: atObject, context: "a", namespace: "default", resource: "pods", name: "web-1"}},
		{"/kube/a/namespaces/default/pods/web-1/containers", loc{level: atContainers, context: "a", namespace: "default", resource: "pods", name: "web-1"}},
		{"/kube/a/namespaces/default/pods/web-1/containers/app", loc{level: atContainer, context: "a", namespace: "default", resource: "pods", name: "web-1", container: "app"}},
		{"/kube/a/cluster", loc{level: atCluster, context: "a"}},
		{"/kube/a/cluster/clusterroles/system:admin", loc{level: atObject, context: "a", resource: "clusterroles", name: "system:admin"}},
		{"/kube/my%2Fctx/cluster/nodes", loc{level: atResource, context: "my/ctx", resource: "nodes"}},
	} {
		got, err := parse(mount, tc.path)
		if err != nil {
			t.Errorf("parse(%s): %v", tc.path, err)
			continue
		}
		tc.want.path = tc.path
		if got != tc.want {
			t.Errorf("parse(%s) = %+v, want %+v", tc.path, got, tc.want)
		}
	}
	for _, p := range []string{"/apps", "/kube/a/other", "/kube/a/cluster/nodes/n1/containers", "/kube/a/namespaces/d/pods/p/logs", "/kube/a/namespaces/d/pods/p/containers/c/x"} {
		if _, err := parse(mount, p); !errors.Is(err, tree.ErrNotFound) {
			t.Errorf("parse(%s) = %v, want not found", p, err)
		}
	}
}

func TestResourceTable(t *testing.T) {
	verbs := metav1.Verbs{"get", "list", "watch", "update", "delete"}
	lists := []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "pods", Kind: "Pod", Namespaced: true, Verbs: verbs},
			{Name: "pods/log", Kind: "Pod", Namespaced: true, Verbs: metav1.Verbs{"get"}},
			{Name: "events", Kind: "Event", Namespaced: true, Verbs: verbs},
			{Name: "namespaces", Kind: "Namespace", Verbs: verbs},
			{Name: "nodes", Kind: "Node", Verbs: verbs},
			{Name: "bindings", Kind: "Binding", Namespaced: true, Verbs: metav1.Verbs{"create"}},
		}},
		{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{
			{Name: "deployments", Kind: "Deployment", Namespaced: true, Verbs: verbs},
		}},
		{GroupVersion: "events.k8s.io/v1", APIResources: []metav1.APIResource{
			{Name: "events", Kind: "Event", Namespaced: true, Verbs: metav1.Verbs{"get", "list", "watch"}},
		}},
		{GroupVersion: "metrics.k8s.io/v1beta1", APIResources: []metav1.APIResource{
			{Name: "pods", Kind: "PodMetrics", Namespaced: true, Verbs: metav1.Verbs{"get", "list"}},
		}},
		{GroupVersion: "a.example.com/v1", APIResources: []metav1.APIResource{
			{Name: "widgets", Kind: "Widget", Namespaced: true, Verbs: verbs},
		}},
		{GroupVersion: "b.example.com/v1", APIResources: []metav1.APIResource{
			{Name: "widgets", Kind: "Widget", Namespaced: true, Verbs: verbs},
			{Name: "nodes", Kind: "BNode", Namespaced: true, Verbs: verbs}, // other scope: no clash
		}},
	}
	tab := newResourceTable(lists, time.Now())
	var names []string
	for _, r := range tab.namespaced {
		names = append(names, r.name)
	}
	want := "deployments events events.events.k8s.io nodes pods widgets.a.example.com widgets.b.example.com"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("namespaced = %s, want %s", got, want)
	}
	if len(tab.cluster) != 1 || tab.cluster[0].name != "nodes" {
		t.Errorf("cluster = %v, want nodes only", tab.cluster)
	}
	if tab.namespaces == nil || tab.namespaces.kind != "Namespace" {
		t.Errorf("namespaces = %v", tab.namespaces)
	}
	if r := tab.lookup("deployments.apps", true); r == nil || r.gvr != (schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}) {
		t.Errorf("lookup deployments.apps = %v", r)
	}
	if r := tab.lookup("events.events.k8s.io", true); r == nil || r.update {
		t.Errorf("lookup events.events.k8s.io = %+v, want found, without update", r)
	}
	if r := tab.lookup("pods", true); r == nil || !r.core() {
		t.Errorf("lookup pods = %+v, want the core one", r)
	}
	if tab.lookup("widgets", true) != nil || tab.lookup("nodes", false) == nil || tab.lookup("pods", false) != nil {
		t.Error("lookup: wrong scope or ambiguous name found")
	}
}

func TestPodStatus(t *testing.T) {
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	always := corev1.ContainerRestartPolicyAlways
	for _, tc := range []struct {
		name   string
		pod    corev1.Pod
		reason string
		ready  string
		starts int
	}{
		{"pending", corev1.Pod{
			Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}},
			Status: corev1.PodStatus{Phase: corev1.PodPending},
		}, "Pending", "0/1", 0},
		{"crashloop", corev1.Pod{
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}, {Name: "b"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
				{Name: "a", Ready: true, State: running, RestartCount: 1},
				{Name: "b", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}, RestartCount: 7},
			}},
		}, "CrashLoopBackOff", "1/2", 8},
		{"init", corev1.Pod{
			Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "i1"}, {Name: "i2"}}, Containers: []corev1.Container{{Name: "a"}}},
			Status: corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{
				{Name: "i1", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}},
				{Name: "i2", State: running},
			}},
		}, "Init:1/2", "0/1", 0},
		{"sidecar", corev1.Pod{
			Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "proxy", RestartPolicy: &always}}, Containers: []corev1.Container{{Name: "a"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning,
				Conditions:            []corev1.PodCondition{{Type: corev1.PodInitialized, Status: corev1.ConditionTrue}},
				InitContainerStatuses: []corev1.ContainerStatus{{Name: "proxy", Ready: true, Started: new(true), State: running, RestartCount: 2}},
				ContainerStatuses:     []corev1.ContainerStatus{{Name: "a", Ready: true, State: running}},
			},
		}, "Running", "2/2", 2},
		{"terminating", corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &metav1.Time{Time: time.Now()}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}},
			Status:     corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: "a", Ready: true, State: running}}},
		}, "Terminating", "1/1", 0},
		{"oomkilled", corev1.Pod{
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
				{Name: "a", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137}}, RestartCount: 3},
			}},
		}, "OOMKilled", "0/1", 3},
	} {
		reason, ready, total, restarts := PodStatus(&tc.pod)
		if got := fmt.Sprintf("%s %d/%d %d", reason, ready, total, restarts); got != fmt.Sprintf("%s %s %d", tc.reason, tc.ready, tc.starts) {
			t.Errorf("%s: podStatus = %s, want %s %s %d", tc.name, got, tc.reason, tc.ready, tc.starts)
		}
	}
}

func TestSlimPodKeepsColumns(t *testing.T) {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", ResourceVersion: "7",
			Annotations:   map[string]string{defaultContainerAnnotation: "b", lastAppliedAnnotation: strings.Repeat("x", 10000)},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "busybox", Command: []string{"sleep", "1d"}}, {Name: "b"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
			{Name: "b", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 5m0s"}}, RestartCount: 4},
		}},
	}
	obj, err := slimPod(p)
	if err != nil {
		t.Fatal(err)
	}
	s := obj.(*corev1.Pod)
	if s.ManagedFields != nil || len(s.Annotations) != 1 || s.Spec.Containers[0].Command != nil || s.Status.ContainerStatuses[0].State.Waiting.Message != "" {
		t.Errorf("slimPod kept too much: %+v", s)
	}
	if defaultContainer(s) != "b" || s.ResourceVersion != "7" {
		t.Errorf("slimPod lost what exec or the informer needs: %+v", s)
	}
	var a, b tree.Node
	podColumns(p, &a)
	podColumns(s, &b)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("columns of the slim pod %+v differ from the pod's %+v", b, a)
	}
}

func TestRedactSecret(t *testing.T) {
	obj := map[string]any{
		"data":       map[string]any{"password": "aHVudGVyMg=="}, // hunter2
		"stringData": map[string]any{"token": "abc"},
		"metadata":   map[string]any{"annotations": map[string]any{lastAppliedAnnotation: `{"data":{"password":"aHVudGVyMg=="}}`, "keep": "me"}},
	}
	if !redactSecret(obj) {
		t.Fatal("redactSecret reported nothing redacted")
	}
	data := obj["data"].(map[string]any)
	if data["password"] != "<redacted: 7 bytes>" || obj["stringData"].(map[string]any)["token"] != "<redacted: 3 bytes>" {
		t.Errorf("redacted = %v %v", data, obj["stringData"])
	}
	ann := obj["metadata"].(map[string]any)["annotations"].(map[string]any)
	if strings.Contains(fmt.Sprint(ann[lastAppliedAnnotation]), "aHVudGVy") || ann["keep"] != "me" {
		t.Errorf("annotations = %v", ann)
	}
	if !hasPlaceholders(obj) {
		t.Error("hasPlaceholders missed the placeholders")
	}
	if redactSecret(map[string]any{"type": "Opaque"}) {
		t.Error("an empty Secret was reported redacted")
	}
}

func TestDecodeObject(t *testing.T) {
	res := &resource{gvr: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, kind: "ConfigMap", namespaced: true}
	u, err := decodeObject([]byte(`{"data":{"a":"b"}}`), res, "cm", "ns")
	if err != nil {
		t.Fatal(err)
	}
	if u.GetAPIVersion() != "v1" || u.GetKind() != "ConfigMap" || u.GetName() != "cm" || u.GetNamespace() != "ns" {
		t.Errorf("decodeObject = %v", u.Object)
	}
	for _, bad := range []string{`[1]`, `null`, `{"metadata":{"name":"other"}}`, `{"metadata":{"name":"cm","namespace":"x"}}`} {
		if _, err := decodeObject([]byte(bad), res, "cm", "ns"); err == nil {
			t.Errorf("decodeObject(%s) succeeded", bad)
		}
	}
}

func TestContainerOf(t *testing.T) {
	pod := map[string]any{
		"spec": map[string]any{
			"initContainers": []any{map[string]any{"name": "init", "image": "alpine"}},
			"containers":     []any{map[string]any{"name": "app", "image": "busybox"}},
		},
		"status": map[string]any{"containerStatuses": []any{map[string]any{"name": "app", "ready": true}}},
	}
	v, err := containerOf(pod, "app")
	if err != nil || v["image"] != "busybox" || v["status"].(map[string]any)["ready"] != true {
		t.Errorf("containerOf(app) = %v, %v", v, err)
	}
	if v, err := containerOf(pod, "init"); err != nil || v["status"] != nil {
		t.Errorf("containerOf(init) = %v, %v", v, err)
	}
	if _, err := containerOf(pod, "nope"); err == nil {
		t.Error("containerOf(nope) succeeded")
	}
}

func TestAPIError(t *testing.T) {
	gr := schema.GroupResource{Resource: "configmaps"}
	const server = "https://127.0.0.1:6443"
	for _, tc := range []struct {
		err  error
		kind error
		in   string
	}{
		{apierrors.NewConflict(gr, "cm", errors.New("the object has been modified")), tree.ErrConflict, "the object has been modified"},
		{apierrors.NewInvalid(schema.GroupKind{Kind: "ConfigMap"}, "cm", field.ErrorList{field.Invalid(field.NewPath("data"), "x", "bad key")}), tree.ErrInvalid, "bad key"},
		{apierrors.NewBadRequest("cannot decode"), tree.ErrInvalid, "cannot decode"},
		{apierrors.NewForbidden(gr, "", errors.New(`User "viewer" cannot list resource "configmaps"`)), tree.ErrForbidden, `cannot list resource "configmaps"`},
		{apierrors.NewNotFound(gr, "cm"), tree.ErrNotFound, `configmaps "cm" not found`},
		{&url.Error{Op: "Get", URL: server + "/api", Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}}, tree.ErrUnavailable, "cannot reach " + server + ": dial tcp: connect: connection refused"},
		{fmt.Errorf("failed to list: %w", apierrors.NewForbidden(gr, "", errors.New("no\nway"))), tree.ErrForbidden, "no; way"},
	} {
		err := apiError("/kube/a/x", server, tc.err)
		if !errors.Is(err, tc.kind) || !strings.HasPrefix(err.Error(), "/kube/a/x: ") || !strings.Contains(err.Error(), tc.in) || strings.Contains(err.Error(), "\n") {
			t.Errorf("apiError(%v) = %q, want one line in %v with %q", tc.err, err, tc.kind, tc.in)
		}
		var status apierrors.APIStatus
		if _, isStatus := tc.err.(apierrors.APIStatus); isStatus && !errors.As(err, &status) {
			t.Errorf("apiError(%v) lost the status", tc.err)
		}
	}
}

func TestParseLogLine(t *testing.T) {
	l := parseLogLine("/p", "2026-08-01T10:00:00.123456789Z hello world")
	if l.Text != "hello world" || l.Time.Nanosecond() != 123456789 || l.Path != "/p" {
		t.Errorf("parseLogLine = %+v", l)
	}
	if l := parseLogLine("/p", "no timestamp"); l.Text != "no timestamp" || !l.Time.IsZero() {
		t.Errorf("parseLogLine without timestamp = %+v", l)
	}
}

func TestMergeByTime(t *testing.T) {
	at := func(s int, text string) tree.LogLine { return tree.LogLine{Time: time.Unix(int64(s), 0), Text: text} }
	a, b := make(chan tree.LogLine, 3), make(chan tree.LogLine, 3)
	a <- at(1, "a1")
	a <- at(4, "a4")
	close(a)
	b <- at(2, "b2")
	b <- at(3, "b3")
	b <- at(5, "b5")
	close(b)
	var got []string
	if err := mergeByTime([]chan tree.LogLine{a, b}, func(l tree.LogLine) error { got = append(got, l.Text); return nil }); err != nil {
		t.Fatal(err)
	}
	if s := strings.Join(got, " "); s != "a1 b2 b3 a4 b5" {
		t.Errorf("merged = %s", s)
	}
}
