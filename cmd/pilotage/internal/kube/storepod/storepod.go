// Package storepod is the entrypoint of the coordination store's pods,
// "pilotage kube-etcd": one member of the etcd cluster "pilotage deploy"
// runs for an app that uses github.com/pilotage/pilotage/coord and names
// no store of its own (kube/objects.Store lays it out). The member is the
// pod of its StatefulSet: its name is the pod's, its data in the pod's
// volume, its peers the other pods under the headless Service.
package storepod

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/coordserver"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
)

// resolveTimeout bounds the wait for the pod's own DNS name: the
// headless Service publishes it a moment after the pod has an address.
const resolveTimeout = 2 * time.Minute

// Run serves this pod's member until ctx is done (SIGTERM).
func Run(ctx context.Context, stderr io.Writer) error {
	s, err := layout.ReadStoreSettings()
	if err != nil {
		return err
	}
	pod := os.Getenv(layout.PodNameEnv)
	if pod == "" {
		return fmt.Errorf("$%s must be set (the downward API of the pod)", layout.PodNameEnv)
	}
	client, peer, cluster, err := s.Member(pod)
	if err != nil {
		return err
	}
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, "pilotage: "+format+"\n", args...) }
	logf("coordination store of %s: member %s of %d", s.App, pod, s.Members)
	if err := awaitName(ctx, peer, logf); err != nil {
		return err
	}
	srv, err := coordserver.StartMember(ctx, coordserver.MemberOptions{
		Name: pod, Dir: filepath.Join(layout.StoreDataDir, "data"),
		ClientURL: client, PeerURL: peer, InitialCluster: cluster, Token: s.App,
		Log: func(line string) { fmt.Fprintln(stderr, line) },
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil // terminated before it served
		}
		return err
	}
	logf("serving at %s", client)
	select {
	case <-ctx.Done():
		logf("terminating")
		return srv.Close()
	case err := <-srv.Err():
		srv.Close()
		return fmt.Errorf("coordination store: %w", err)
	}
}

// awaitName waits until the host of u resolves: etcd checks its own peer
// URL against the initial cluster's at start, and fails if it cannot.
func awaitName(ctx context.Context, u string, logf func(string, ...any)) error {
	pu, err := url.Parse(u)
	if err != nil {
		return fmt.Errorf("peer URL %q: %w", u, err)
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	var last time.Time
	for {
		_, err := net.DefaultResolver.LookupHost(ctx, pu.Hostname())
		if err == nil {
			return nil
		}
		if time.Since(last) > 5*time.Second {
			logf("waiting for %s to resolve: %v", pu.Hostname(), err)
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s does not resolve (the store's headless Service publishes it): %w", pu.Hostname(), context.Cause(ctx))
		case <-time.After(200 * time.Millisecond):
		}
	}
}
