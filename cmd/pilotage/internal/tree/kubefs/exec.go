package kubefs

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
	"k8s.io/streaming/pkg/httpstream"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// Exec runs req.Command in the container at path, or in the pod at path's
// default container (its kubectl.kubernetes.io/default-container, else
// its first), as kubectl exec does: over WebSocket, falling back to SPDY
// for servers that do not upgrade. It returns the command's exit status.
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
	u := c.core.RESTClient().Post().Namespace(p.Namespace).Resource("pods").Name(p.Name).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{
			Container: container,
			Command:   req.Command,
			Stdin:     req.Stdin != nil,
			Stdout:    req.Stdout != nil,
			Stderr:    req.Stderr != nil && !req.TTY,
			TTY:       req.TTY,
		}, scheme.ParameterCodec).URL()
	spdy, err := remotecommand.NewSPDYExecutor(c.config, "POST", u)
	if err != nil {
		return 0, fmt.Errorf("%s: exec: %w", path, err)
	}
	// WebSocket must be GET (RFC 6455 section 4.1).
	ws, err := remotecommand.NewWebSocketExecutor(c.config, "GET", u.String())
	if err != nil {
		return 0, fmt.Errorf("%s: exec: %w", path, err)
	}
	executor, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return 0, fmt.Errorf("%s: exec: %w", path, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the size queue's wait
	opts := remotecommand.StreamOptions{Stdin: req.Stdin, Stdout: req.Stdout, Tty: req.TTY}
	if !req.TTY {
		opts.Stderr = req.Stderr
	}
	if req.TTY && req.Resize != nil {
		opts.TerminalSizeQueue = sizeQueue{ctx, req.Resize}
	}
	err = executor.StreamWithContext(ctx, opts)
	var exit utilexec.ExitError
	if errors.As(err, &exit) && exit.Exited() {
		return exit.ExitStatus(), nil
	}
	if err != nil {
		return 0, apiError(path, c.server, err)
	}
	return 0, nil
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

// A sizeQueue hands the terminal's sizes to remotecommand.
type sizeQueue struct {
	ctx   context.Context
	sizes <-chan tree.TermSize
}

// Next returns the next size, or nil when the sizes end or the exec does.
func (q sizeQueue) Next() *remotecommand.TerminalSize {
	select {
	case s, ok := <-q.sizes:
		if !ok {
			return nil
		}
		return &remotecommand.TerminalSize{Width: s.Width, Height: s.Height}
	case <-q.ctx.Done():
		return nil
	}
}
