package podconn

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
	"k8s.io/streaming/pkg/httpstream"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// Exec runs req.Command in container of pod p, with the client of
// config (whose REST client is core's), and returns the command's exit
// status. An error is the connection's or the API server's, not the
// command's.
func Exec(ctx context.Context, config *rest.Config, core rest.Interface, p *corev1.Pod, container string, req tree.ExecRequest) (int, error) {
	u := core.Post().Namespace(p.Namespace).Resource("pods").Name(p.Name).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{
			Container: container,
			Command:   req.Command,
			Stdin:     req.Stdin != nil,
			Stdout:    req.Stdout != nil,
			Stderr:    req.Stderr != nil && !req.TTY,
			TTY:       req.TTY,
		}, scheme.ParameterCodec).URL()
	spdy, err := remotecommand.NewSPDYExecutor(config, "POST", u)
	if err != nil {
		return 0, fmt.Errorf("exec: %w", err)
	}
	// WebSocket must be GET (RFC 6455 section 4.1).
	ws, err := remotecommand.NewWebSocketExecutor(config, "GET", u.String())
	if err != nil {
		return 0, fmt.Errorf("exec: %w", err)
	}
	executor, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return 0, fmt.Errorf("exec: %w", err)
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
	return 0, err
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
