package coordserver

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// freePort returns a loopback port nothing listens on (a moment ago).
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, p, _ := net.SplitHostPort(l.Addr().String())
	return p
}

// Three members form a cluster, serve on their client URLs (with the
// health endpoints the pods' probes use), and keep serving with one of
// them gone; a member restarted on its data rejoins.
func TestMembers(t *testing.T) {
	const n = 3
	var opts []MemberOptions
	var cluster []string
	for i := range n {
		o := MemberOptions{
			Name:       fmt.Sprintf("m%d", i),
			Dir:        filepath.Join(t.TempDir(), "data"),
			ClientURL:  "http://127.0.0.1:" + freePort(t),
			PeerURL:    "http://127.0.0.1:" + freePort(t),
			ListenHost: "127.0.0.1",
			Token:      "test",
		}
		opts = append(opts, o)
		cluster = append(cluster, o.Name+"="+o.PeerURL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	servers := make([]*Server, n)
	errs := make(chan error, n)
	for i := range opts {
		opts[i].InitialCluster = strings.Join(cluster, ",")
		go func() {
			var err error
			servers[i], err = StartMember(ctx, opts[i])
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for _, s := range servers {
			s.Close()
		}
	}()
	for _, o := range opts {
		resp, err := http.Get(o.ClientURL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s/readyz: %s", o.ClientURL, resp.Status)
		}
	}
	var endpoints []string
	for _, o := range opts {
		endpoints = append(endpoints, o.ClientURL)
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Put(ctx, "k", "v1"); err != nil {
		t.Fatal(err)
	}
	servers[0].Close()
	if _, err := c.Put(ctx, "k", "v2"); err != nil {
		t.Fatalf("put with one member of three gone: %v", err)
	}
	if servers[0], err = StartMember(ctx, opts[0]); err != nil {
		t.Fatalf("restart on its data: %v", err)
	}
	one, err := clientv3.New(clientv3.Config{Endpoints: endpoints[:1], DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	resp, err := one.Get(ctx, "k")
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v2" {
		t.Fatalf("the restarted member reads %v, %v; want v2", resp, err)
	}
}
