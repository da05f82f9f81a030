package kubetest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// NetnsDialer opens TCP connections from inside the cluster's network
// namespace, for a test that must reach ClusterIPs and pod IPs from its
// own process (a load generator, say) rather than from a program run
// with InNetns, and listens there for pods to reach the test (at
// NodeIP). Its sockets are made by one goroutine locked to an OS thread
// that joined the netns; once made, they work from any goroutine.
type NetnsDialer struct {
	calls chan func() // run on the netns's thread
	stop  chan struct{}
}

// NetnsDialer starts a dialer into the cluster's netns; Close stops it.
func (c *FullCluster) NetnsDialer() (*NetnsDialer, error) {
	ns, err := os.Open("/run/netns/" + c.Netns)
	if err != nil {
		return nil, fmt.Errorf("netns dialer: %w", err)
	}
	d := &NetnsDialer{calls: make(chan func()), stop: make(chan struct{})}
	joined := make(chan error, 1)
	go func() {
		// Never unlocked: the thread ends with this goroutine, so no
		// other goroutine ever runs in the netns.
		runtime.LockOSThread()
		err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET)
		ns.Close()
		joined <- err
		if err != nil {
			return
		}
		for {
			select {
			case f := <-d.calls:
				f()
			case <-d.stop:
				return
			}
		}
	}()
	if err := <-joined; err != nil {
		return nil, fmt.Errorf("netns dialer: join %s: %w", c.Netns, err)
	}
	return d, nil
}

// inNetns runs f on the netns's thread and waits for it.
func (d *NetnsDialer) inNetns(ctx context.Context, f func()) error {
	done := make(chan struct{})
	select {
	case d.calls <- func() { f(); close(done) }:
	case <-d.stop:
		return net.ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	<-done
	return nil
}

// DialContext connects to address (an IP and port: there is no resolver
// here for cluster names) from inside the netns.
func (d *NetnsDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if network != "tcp" && network != "tcp4" {
		return nil, fmt.Errorf("netns dialer: network %s: only tcp", network)
	}
	var conn net.Conn
	var err error
	if e := d.inNetns(ctx, func() { conn, err = new(net.Dialer).DialContext(ctx, "tcp", address) }); e != nil {
		return nil, e
	}
	return conn, err
}

// Listen listens on a TCP address inside the netns (":0": any port, on
// NodeIP too, which pods reach).
func (d *NetnsDialer) Listen(address string) (net.Listener, error) {
	var l net.Listener
	var err error
	if e := d.inNetns(context.Background(), func() { l, err = net.Listen("tcp", address) }); e != nil {
		return nil, e
	}
	return l, err
}

// HTTPClient returns a client whose every request opens a new connection
// from inside the netns: each one goes through the Service routing
// (kube-proxy) again, as a new user's would.
func (d *NetnsDialer) HTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout:   timeout,
		Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true},
	}
}

// Close stops the dialer; connections it made stay open.
func (d *NetnsDialer) Close() { close(d.stop) }
