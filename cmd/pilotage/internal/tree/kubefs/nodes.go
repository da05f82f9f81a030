package kubefs

import (
	"fmt"
	"net/url"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// collectionNode is a fixed directory: /kube, namespaces, cluster,
// containers.
func collectionNode(path, name string) tree.Node {
	return tree.Node{Path: path, Name: name, Kind: "Collection", Dir: true}
}

// contextNode is a context of the kubeconfig.
func contextNode(path, name string, k *kubeconfig) tree.Node {
	n := tree.Node{Path: path, Name: name, Kind: "Context", Dir: true, Info: k.server(name)}
	if k.config.CurrentContext == name {
		n.Info += " (current)"
	}
	return n
}

// resourceNode is the directory of a resource type.
func resourceNode(path, name string, r *resource) tree.Node {
	return tree.Node{Path: path, Name: name, Kind: "Collection", Dir: true, Info: fmt.Sprintf("%s (%s)", r.kind, r.gvr.GroupVersion())}
}

// objectNode is a cached object of r in the directory dir, obj as in's
// store holds it.
func objectNode(dir string, r *resource, typed *typedKind, obj any) tree.Node {
	m, err := meta.Accessor(obj)
	if err != nil {
		return tree.Node{} // stores hold objects with metadata only
	}
	n := tree.Node{
		Path:     dir + "/" + url.PathEscape(m.GetName()),
		Name:     m.GetName(),
		Kind:     r.kind,
		Created:  m.GetCreationTimestamp().Time,
		Readable: r.get,
		Editable: r.update,
		Remove:   r.delete,
	}
	if m.GetDeletionTimestamp() != nil {
		n.State = "Terminating"
	}
	if typed != nil {
		typed.columns(obj, &n)
	}
	if r.is("", "pods") {
		n.Dir, n.Logs, n.Exec, n.RemoteExec = true, true, true, true
	}
	return n
}

// namespaceNode is a namespace, obj as a metadata informer holds it, or
// nil when the namespaces cannot be listed (then it is taken on trust).
func namespaceNode(path string, r *resource, obj any) tree.Node {
	if obj == nil {
		return tree.Node{Path: path, Name: api.Base(path), Kind: "Namespace", Dir: true, Readable: true,
			Info: "not verified: namespaces cannot be listed"}
	}
	return asNamespace(objectNode(api.Parent(path), r, nil, obj))
}

// asNamespace makes the node of a namespace object a directory, Active
// unless Terminating.
func asNamespace(n tree.Node) tree.Node {
	n.Dir = true
	if n.State == "" {
		n.State = "Active"
	}
	return n
}

// containerNodes are the containers of the pod p, in the directory dir:
// init containers (sidecars among them) first, as they start.
func containerNodes(dir string, p *corev1.Pod) []tree.Node {
	statuses := map[string]*corev1.ContainerStatus{}
	for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for i := range list {
			statuses[list[i].Name] = &list[i]
		}
	}
	var nodes []tree.Node
	add := func(c corev1.Container, info string) {
		s := statuses[c.Name]
		n := tree.Node{
			Path: dir + "/" + url.PathEscape(c.Name), Name: c.Name, Kind: "Container",
			State: containerState(s), Ready: "0/1", Info: info,
			Readable: true, Logs: true, Exec: true, RemoteExec: true,
		}
		if s != nil {
			n.Restarts = int(s.RestartCount)
			if s.Ready {
				n.Ready = "1/1"
			}
			if s.State.Running != nil {
				n.Created = s.State.Running.StartedAt.Time
			}
		}
		nodes = append(nodes, n)
	}
	for _, c := range p.Spec.InitContainers {
		info := "init " + c.Image
		if restartable(&c) {
			info = "sidecar " + c.Image
		}
		add(c, info)
	}
	for _, c := range p.Spec.Containers {
		add(c, c.Image)
	}
	return nodes
}
