package kubefs

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/podconn"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// Exec runs req.Command in the container at path, or in the pod at path's
// default container (its kubectl.kubernetes.io/default-container, else
// its first), as kubectl exec does (package podconn). It returns the
// command's exit status.
func (fs *FS) Exec(ctx context.Context, path string, req tree.ExecRequest) (int, error) {
	l, err := parse(fs.mount, path)
	if err != nil {
		return 0, err
	}
	if l.level != atObject && l.level != atContainer {
		return 0, tree.NotSupported("exec in", path)
	}
	if len(req.Command) == 0 {
		return 0, errorf(path, tree.ErrInvalid, "no command to run")
	}
	c, p, err := fs.runningPod(ctx, l, "exec in")
	if err != nil {
		return 0, err
	}
	if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return 0, errorf(path, tree.ErrUnavailable, fmt.Sprintf("cannot exec in pod %s: it has completed (%s)", p.Name, p.Status.Phase))
	}
	container := l.container
	if container == "" {
		container = defaultContainer(p)
	}
	return c.exec(ctx, path, p, container, req)
}

// exec runs req in the container of p, whose node is path.
func (c *cluster) exec(ctx context.Context, path string, p *corev1.Pod, container string, req tree.ExecRequest) (int, error) {
	status, err := podconn.Exec(ctx, c.config, c.core.RESTClient(), p, container, req)
	if err != nil {
		return 0, apiError(path, c.server, err)
	}
	return status, nil
}

// defaultContainer returns the container kubectl exec picks in p.
func defaultContainer(p *corev1.Pod) string {
	if name := p.Annotations[defaultContainerAnnotation]; name != "" && hasContainer(p, name) {
		return name
	}
	if len(p.Spec.Containers) > 0 {
		return p.Spec.Containers[0].Name
	}
	return ""
}
