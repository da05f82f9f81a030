package coordserver

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"go.etcd.io/etcd/server/v3/embed"
)

// MemberOptions configure StartMember.
type MemberOptions struct {
	// Name is the member's name in InitialCluster.
	Name string
	// Dir holds the member's data; created (0700) if missing.
	Dir string
	// ClientURL and PeerURL are the URLs other members and clients reach
	// this one at (http://host:port); the member listens on their ports
	// on ListenHost.
	ClientURL, PeerURL string
	// ListenHost is the address to listen on; "" listens on all of them.
	ListenHost string
	// InitialCluster names every member of a new cluster
	// ("a=http://a:2380,b=http://b:2380"); a member with data already
	// in Dir ignores it. Token tells this cluster from others.
	InitialCluster, Token string
	// Log receives the server's error messages, one line each; nil drops
	// them.
	Log func(line string)
}

// StartMember starts a member of an etcd cluster that serves over the
// network: the store "pilotage deploy" runs as a StatefulSet, one member
// per pod. It returns once the member serves, which needs a majority of
// the members up, or ctx is done.
func StartMember(ctx context.Context, opts MemberOptions) (*Server, error) {
	client, err := url.Parse(opts.ClientURL)
	if err != nil {
		return nil, fmt.Errorf("coordination store: client URL: %w", err)
	}
	peer, err := url.Parse(opts.PeerURL)
	if err != nil {
		return nil, fmt.Errorf("coordination store: peer URL: %w", err)
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("coordination store: %w", err)
	}
	s := &Server{endpoint: opts.ClientURL}
	cfg := baseConfig(filepath.Clean(opts.Dir), newLogger(opts.Log, &s.closing))
	cfg.Name = opts.Name
	listen := cmp.Or(opts.ListenHost, "0.0.0.0")
	cfg.ListenClientUrls = []url.URL{{Scheme: "http", Host: net.JoinHostPort(listen, client.Port())}}
	cfg.AdvertiseClientUrls = []url.URL{*client}
	cfg.ListenPeerUrls = []url.URL{{Scheme: "http", Host: net.JoinHostPort(listen, peer.Port())}}
	cfg.AdvertisePeerUrls = []url.URL{*peer}
	cfg.InitialCluster = opts.InitialCluster
	cfg.InitialClusterToken = opts.Token
	cfg.ClusterState = embed.ClusterStateFlagNew
	if !strings.Contains(opts.InitialCluster, ",") {
		// One member elects itself: a short election timeout costs
		// nothing and makes a (re)start fast. Members of a cluster keep
		// etcd's defaults, which suit a network between them.
		cfg.TickMs, cfg.ElectionMs = 10, 50
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("coordination store member %s: %w", opts.Name, err)
	}
	s.etcd = e
	select {
	case <-e.Server.ReadyNotify():
		return s, nil
	case err := <-e.Err():
		s.Close()
		return nil, fmt.Errorf("coordination store member %s: %w", opts.Name, err)
	case <-ctx.Done():
		s.Close()
		return nil, fmt.Errorf("coordination store member %s: not serving: %w", opts.Name, context.Cause(ctx))
	}
}

// Err returns a channel that delivers an error the server stopped
// serving with.
func (s *Server) Err() <-chan error { return s.etcd.Err() }
