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
// with InNetns. Its sockets are made by one goroutine locked to an OS
// thread that joined the netns; once made, they work from any goroutine.
type NetnsDialer struct {
	dials chan dialRequest
	stop  chan struct{}
}

type dialRequest struct {
	ctx     context.Context
	address string
	reply   chan dialReply
}

type dialReply struct {
	conn net.Conn
	err  error
}

// NetnsDialer starts a dialer into the cluster's netns; Close stops it.
func (c *FullCluster) NetnsDialer() (*NetnsDialer, error) {
	ns, err := os.Open("/run/netns/" + c.Netns)
	if err != nil {
		return nil, fmt.Errorf("netns dialer: %w", err)
	}
	d := &NetnsDialer{dials: make(chan dialRequest), stop: make(chan struct{})}
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
		var dialer net.Dialer
		for {
			select {
			case r := <-d.dials:
				conn, err := dialer.DialContext(r.ctx, "tcp", r.address)
				r.reply <- dialReply{conn, err}
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

// DialContext connects to address (an IP and port: there is no resolver
// here for cluster names) from inside the netns.
func (d *NetnsDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if network != "tcp" && network != "tcp4" {
		return nil, fmt.Errorf("netns dialer: network %s: only tcp", network)
	}
	r := dialRequest{ctx: ctx, address: address, reply: make(chan dialReply, 1)}
	select {
	case d.dials <- r:
	case <-d.stop:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	rep := <-r.reply
	return rep.conn, rep.err
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
