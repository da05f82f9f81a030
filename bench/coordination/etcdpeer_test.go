package coordination

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// etcdSessionTTL is the session TTL of etcd's concurrency package by
// default (concurrency.NewSession without WithTTL), in seconds; -short
// uses etcd's minimum.
func etcdSessionTTL() int {
	if testing.Short() {
		return 1
	}
	return 60 // concurrency's defaultSessionTTL
}

// etcdSample takes one sample on a fresh concurrency.Election of three
// candidates, each its own client and session: the leader acts (Campaign
// returns), then leave makes it go; the sample is the time from leave to
// the next leader's Campaign returning.
func etcdSample(srv *etcdServer, name string, ttl int, wait time.Duration, leave func(c *clientv3.Client, e *concurrency.Election) error) (time.Duration, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const candidates = 3
	var (
		clients   []*clientv3.Client
		leases    []clientv3.LeaseID
		elections []*concurrency.Election
	)
	defer func() {
		// Revoke every session, the abandoned one too, so that none
		// expires later, during another benchmark.
		if c, err := srv.client(); err == nil {
			for _, l := range leases {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				c.Revoke(ctx, l)
				cancel()
			}
		}
		var wg sync.WaitGroup
		for _, c := range clients {
			wg.Go(func() { c.Close() })
		}
		wg.Wait()
	}()
	for range candidates {
		c, err := srv.newClient()
		if err != nil {
			return 0, err
		}
		clients = append(clients, c)
		opts := []concurrency.SessionOption{concurrency.WithContext(ctx)}
		if ttl != 60 {
			opts = append(opts, concurrency.WithTTL(ttl))
		}
		s, err := concurrency.NewSession(c, opts...)
		if err != nil {
			return 0, err
		}
		leases = append(leases, s.Lease())
		elections = append(elections, concurrency.NewElection(s, name))
	}
	ch := make(chan won, candidates)
	for i, e := range elections {
		go func() {
			if err := e.Campaign(ctx, fmt.Sprint(i)); err == nil {
				ch <- won{i, time.Now()}
			}
		}()
	}
	first, err := next(ch, -1, 10*time.Second)
	if err != nil {
		return 0, err
	}
	time.Sleep(settle + wait)
	left := time.Now()
	if err := leave(clients[first.candidate], elections[first.candidate]); err != nil {
		return 0, err
	}
	w, err := next(ch, first.candidate, time.Duration(ttl)*time.Second+10*time.Second)
	if err != nil {
		return 0, err
	}
	return w.at.Sub(left), nil
}

// benchEtcdCrash: the leader's client is closed without revoking its
// session, as a crash leaves it; the lease ends TTL after its last renewal
// (every TTL/3, clientv3's keep-alive).
func benchEtcdCrash(b *testing.B) {
	srv, err := sharedEtcd()
	if err != nil {
		b.Fatal(err)
	}
	ttl := etcdSessionTTL()
	run := runID()
	reportSamples(b, collect(b, true, func(i int) (sample, error) {
		d, err := etcdSample(srv, fmt.Sprintf("/bench/etcd-crash/%s/%d", run, i), ttl, phase(time.Duration(ttl)*time.Second/3),
			func(c *clientv3.Client, _ *concurrency.Election) error { return c.Close() })
		return sample{d: d}, err
	}))
}

// benchEtcdResign: the leader resigns.
func benchEtcdResign(b *testing.B) {
	srv, err := sharedEtcd()
	if err != nil {
		b.Fatal(err)
	}
	run := runID()
	reportSamples(b, collect(b, false, func(i int) (sample, error) {
		d, err := etcdSample(srv, fmt.Sprintf("/bench/etcd-resign/%s/%d", run, i), etcdSessionTTL(), 0,
			func(_ *clientv3.Client, e *concurrency.Election) error { return e.Resign(context.Background()) })
		return sample{d: d}, err
	}))
}
