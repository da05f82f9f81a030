package kubefs

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// defaultContainerAnnotation names the container kubectl exec and logs
// pick in a pod of several.
const defaultContainerAnnotation = "kubectl.kubernetes.io/default-container"

// A typedKind is a resource whose ls -l columns need more than metadata:
// its informer caches typed objects, slimmed to what the columns need.
type typedKind struct {
	example runtime.Object
	client  func(c *cluster) rest.Interface // the REST client of its group
	slim    func(obj any) (any, error)      // a cache.TransformFunc
	columns func(obj any, n *tree.Node)     // State, Ready, Restarts, Info
}

// typedKinds are the resources with typed informers; every other
// resource gets a metadata-only one.
var typedKinds = map[schema.GroupVersionResource]*typedKind{
	{Version: "v1", Resource: "pods"}: {
		example: &corev1.Pod{},
		client:  func(c *cluster) rest.Interface { return c.core.RESTClient() },
		slim:    slimPod,
		columns: podColumns,
	},
	{Version: "v1", Resource: "nodes"}: {
		example: &corev1.Node{},
		client:  func(c *cluster) rest.Interface { return c.core.RESTClient() },
		slim:    slimNode,
		columns: nodeColumns,
	},
	{Group: "apps", Version: "v1", Resource: "deployments"}: {
		example: &appsv1.Deployment{},
		client:  func(c *cluster) rest.Interface { return c.apps.RESTClient() },
		slim:    slimDeployment,
		columns: func(obj any, n *tree.Node) {
			d := obj.(*appsv1.Deployment)
			replicaColumns(n, desired(d.Spec.Replicas), d.Status.ReadyReplicas, d.Status.UpdatedReplicas)
		},
	},
	{Group: "apps", Version: "v1", Resource: "statefulsets"}: {
		example: &appsv1.StatefulSet{},
		client:  func(c *cluster) rest.Interface { return c.apps.RESTClient() },
		slim:    slimStatefulSet,
		columns: func(obj any, n *tree.Node) {
			s := obj.(*appsv1.StatefulSet)
			replicaColumns(n, desired(s.Spec.Replicas), s.Status.ReadyReplicas, s.Status.UpdatedReplicas)
		},
	},
	{Group: "apps", Version: "v1", Resource: "daemonsets"}: {
		example: &appsv1.DaemonSet{},
		client:  func(c *cluster) rest.Interface { return c.apps.RESTClient() },
		slim:    slimDaemonSet,
		columns: func(obj any, n *tree.Node) {
			d := obj.(*appsv1.DaemonSet)
			replicaColumns(n, d.Status.DesiredNumberScheduled, d.Status.NumberReady, d.Status.UpdatedNumberScheduled)
		},
	},
}

// slimMeta keeps of m what the tree shows: identity, creation, deletion,
// labels, owners. managedFields and annotations (last-applied
// configurations can be as large as the object) go.
func slimMeta(m *metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:              m.Name,
		Namespace:         m.Namespace,
		UID:               m.UID,
		ResourceVersion:   m.ResourceVersion,
		Generation:        m.Generation,
		CreationTimestamp: m.CreationTimestamp,
		DeletionTimestamp: m.DeletionTimestamp,
		Labels:            m.Labels,
		OwnerReferences:   m.OwnerReferences,
	}
}

// slimPartial is the transform of metadata-only informers.
func slimPartial(obj any) (any, error) {
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return obj, nil // a tombstone
	}
	return &metav1.PartialObjectMetadata{TypeMeta: m.TypeMeta, ObjectMeta: slimMeta(&m.ObjectMeta)}, nil
}

// slimPod keeps what podStatus, the containers directory and exec's
// choice of container need.
func slimPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	s := &corev1.Pod{ObjectMeta: slimMeta(&p.ObjectMeta)}
	if c, ok := p.Annotations[defaultContainerAnnotation]; ok {
		s.Annotations = map[string]string{defaultContainerAnnotation: c}
	}
	s.Spec.NodeName = p.Spec.NodeName
	for _, c := range p.Spec.InitContainers {
		s.Spec.InitContainers = append(s.Spec.InitContainers, corev1.Container{Name: c.Name, Image: c.Image, RestartPolicy: c.RestartPolicy})
	}
	for _, c := range p.Spec.Containers {
		s.Spec.Containers = append(s.Spec.Containers, corev1.Container{Name: c.Name, Image: c.Image})
	}
	s.Status.Phase, s.Status.Reason = p.Status.Phase, p.Status.Reason
	for _, c := range p.Status.Conditions {
		s.Status.Conditions = append(s.Status.Conditions, corev1.PodCondition{Type: c.Type, Status: c.Status, Reason: c.Reason})
	}
	s.Status.InitContainerStatuses = slimStatuses(p.Status.InitContainerStatuses)
	s.Status.ContainerStatuses = slimStatuses(p.Status.ContainerStatuses)
	return s, nil
}

func slimStatuses(in []corev1.ContainerStatus) []corev1.ContainerStatus {
	var out []corev1.ContainerStatus
	for _, c := range in {
		s := corev1.ContainerStatus{Name: c.Name, Ready: c.Ready, Started: c.Started, RestartCount: c.RestartCount}
		switch st := c.State; {
		case st.Waiting != nil:
			s.State.Waiting = &corev1.ContainerStateWaiting{Reason: st.Waiting.Reason}
		case st.Terminated != nil:
			s.State.Terminated = &corev1.ContainerStateTerminated{Reason: st.Terminated.Reason, ExitCode: st.Terminated.ExitCode, Signal: st.Terminated.Signal}
		case st.Running != nil:
			s.State.Running = &corev1.ContainerStateRunning{StartedAt: st.Running.StartedAt}
		}
		out = append(out, s)
	}
	return out
}

func podColumns(obj any, n *tree.Node) {
	p := obj.(*corev1.Pod)
	reason, ready, total, restarts := PodStatus(p)
	n.State, n.Ready, n.Restarts = reason, fmt.Sprintf("%d/%d", ready, total), restarts
	n.Info = p.Spec.NodeName
}

func slimNode(obj any) (any, error) {
	nd, ok := obj.(*corev1.Node)
	if !ok {
		return obj, nil
	}
	s := &corev1.Node{ObjectMeta: slimMeta(&nd.ObjectMeta)}
	s.Spec.Unschedulable = nd.Spec.Unschedulable
	s.Status.NodeInfo.KubeletVersion = nd.Status.NodeInfo.KubeletVersion
	for _, c := range nd.Status.Conditions {
		if c.Type == corev1.NodeReady {
			s.Status.Conditions = []corev1.NodeCondition{{Type: c.Type, Status: c.Status}}
		}
	}
	return s, nil
}

// nodeColumns shows a node's state as kubectl does: Ready or NotReady,
// and SchedulingDisabled when cordoned.
func nodeColumns(obj any, n *tree.Node) {
	nd := obj.(*corev1.Node)
	n.State = "Unknown"
	for _, c := range nd.Status.Conditions {
		if c.Type == corev1.NodeReady {
			n.State = "NotReady"
			if c.Status == corev1.ConditionTrue {
				n.State = "Ready"
			}
		}
	}
	if nd.Spec.Unschedulable {
		n.State += ",SchedulingDisabled"
	}
	n.Info = nd.Status.NodeInfo.KubeletVersion
}

func slimDeployment(obj any) (any, error) {
	d, ok := obj.(*appsv1.Deployment)
	if !ok {
		return obj, nil
	}
	return &appsv1.Deployment{
		ObjectMeta: slimMeta(&d.ObjectMeta),
		Spec:       appsv1.DeploymentSpec{Replicas: d.Spec.Replicas},
		Status:     appsv1.DeploymentStatus{ReadyReplicas: d.Status.ReadyReplicas, UpdatedReplicas: d.Status.UpdatedReplicas},
	}, nil
}

func slimStatefulSet(obj any) (any, error) {
	s, ok := obj.(*appsv1.StatefulSet)
	if !ok {
		return obj, nil
	}
	return &appsv1.StatefulSet{
		ObjectMeta: slimMeta(&s.ObjectMeta),
		Spec:       appsv1.StatefulSetSpec{Replicas: s.Spec.Replicas},
		Status:     appsv1.StatefulSetStatus{ReadyReplicas: s.Status.ReadyReplicas, UpdatedReplicas: s.Status.UpdatedReplicas},
	}, nil
}

func slimDaemonSet(obj any) (any, error) {
	d, ok := obj.(*appsv1.DaemonSet)
	if !ok {
		return obj, nil
	}
	return &appsv1.DaemonSet{
		ObjectMeta: slimMeta(&d.ObjectMeta),
		Status: appsv1.DaemonSetStatus{
			DesiredNumberScheduled: d.Status.DesiredNumberScheduled,
			NumberReady:            d.Status.NumberReady,
			UpdatedNumberScheduled: d.Status.UpdatedNumberScheduled,
		},
	}, nil
}

// desired returns a workload's replicas, 1 when unset as the API
// defaults it.
func desired(replicas *int32) int32 {
	if replicas == nil {
		return 1
	}
	return *replicas
}

// replicaColumns shows a workload's ready/desired replicas, and a state:
// Ready when all are ready and up to date, Stopped when scaled to zero,
// else Progressing.
func replicaColumns(n *tree.Node, want, ready, updated int32) {
	n.Ready = fmt.Sprintf("%d/%d", ready, want)
	switch {
	case want == 0 && ready == 0:
		n.State = "Stopped"
	case ready >= want && updated >= want:
		n.State = "Ready"
	default:
		n.State = "Progressing"
	}
}
