package podconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/klog/v2"
)

// A Forwarding is a local port, on 127.0.0.1, whose connections reach a
// port of one pod. It lasts until Close, or until the pod or the
// connection to the API server goes (then Done is closed, and Err says
// why).
type Forwarding struct {
	addr   string // host:port
	cancel context.CancelFunc
	done   chan struct{}
	err    error // once done is closed
}

// Forward opens a local port reaching port of pod in namespace, with the
// client of config (whose REST client is core's), as kubectl
// port-forward does, and returns once it listens.
func Forward(ctx context.Context, config *rest.Config, core rest.Interface, namespace, pod string, port int) (*Forwarding, error) {
	transport, upgrader, err := spdy.RoundTripperFor(config)
	if err != nil {
		return nil, fmt.Errorf("port-forward to pod %s: %w", pod, err)
	}
	u := core.Post().Namespace(namespace).Resource("pods").Name(pod).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	// The forwarder logs a connection's failure with klog: the
	// connection's user (an etcd client) sees it fail, and the user's
	// terminal must not.
	fctx, cancel := context.WithCancel(klog.NewContext(context.Background(), logr.Discard()))
	ready := make(chan struct{})
	pf, err := portforward.NewOnAddressesWithContext(fctx, dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(port)}, ready, io.Discard, io.Discard)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("port-forward to pod %s: %w", pod, err)
	}
	f := &Forwarding{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		err := pf.ForwardPorts()
		if err == nil && fctx.Err() == nil {
			err = errors.New("the API server ended the forward")
		}
		if err != nil {
			f.err = fmt.Errorf("port-forward to pod %s: %w", pod, err)
		}
	}()
	select {
	case <-ready:
	case <-f.done:
		cancel()
		return nil, f.err
	case <-ctx.Done():
		f.Close()
		return nil, fmt.Errorf("port-forward to pod %s: %w", pod, ctx.Err())
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) != 1 {
		f.Close()
		return nil, fmt.Errorf("port-forward to pod %s: no local port (%v)", pod, err)
	}
	f.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(int(ports[0].Local)))
	return f, nil
}

// Addr returns the local address, "127.0.0.1:<port>".
func (f *Forwarding) Addr() string { return f.addr }

// Done is closed once the forward ended.
func (f *Forwarding) Done() <-chan struct{} { return f.done }

// Err returns why the forward ended: nil while it runs, or after Close.
func (f *Forwarding) Err() error {
	select {
	case <-f.done:
		return f.err
	default:
		return nil
	}
}

// Close stops listening, ends the connections forwarded, and waits for
// the forward to end.
func (f *Forwarding) Close() {
	f.cancel()
	<-f.done
}
