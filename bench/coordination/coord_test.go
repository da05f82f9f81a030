package coordination

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pilotage/pilotage/coord"
)

// coordElection is one election of coord candidates in this process,
// each its own Store with its own connection to the shared etcd, through a
// proxy that can cut it off.
type coordElection struct {
	stores  []*coord.Store
	proxies []*proxy
	leads   []*coord.Leadership
	won     chan won
	cancel  context.CancelFunc
}

// newCoordElection starts candidates Stores campaigning in one election.
func newCoordElection(srv *etcdServer, dir, prefix string, candidates int) (*coordElection, error) {
	ctx, cancel := context.WithCancel(context.Background())
	e := &coordElection{
		leads:  make([]*coord.Leadership, candidates),
		won:    make(chan won, candidates),
		cancel: cancel,
	}
	for i := range candidates {
		p, err := newProxy(filepath.Join(dir, fmt.Sprintf("c%d.sock", i)), srv.sock)
		if err != nil {
			e.close()
			return nil, err
		}
		e.proxies = append(e.proxies, p)
		cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
		s, err := coord.Connect(cctx, coord.Options{Endpoints: []string{p.endpoint()}, Prefix: prefix, Replica: fmt.Sprintf("c%d", i)})
		ccancel()
		if err != nil {
			e.close()
			return nil, err
		}
		e.stores = append(e.stores, s)
	}
	for i, s := range e.stores {
		go func() {
			l, err := s.Election("bench").Campaign(ctx, fmt.Sprint(i))
			if err != nil {
				return // cancelled, or its proxy was cut
			}
			e.leads[i] = l // read only after <-e.won
			e.won <- won{i, time.Now()}
		}()
	}
	return e, nil
}

// close stops the candidates; those cut off give up revoking their
// leases after the TTL.
func (e *coordElection) close() {
	e.cancel()
	for _, p := range e.proxies {
		p.cutOff()
	}
	var wg sync.WaitGroup
	for _, s := range e.stores {
		wg.Go(func() { s.Close() })
	}
	wg.Wait()
}

// coordSample takes one sample on a fresh election: the leader acts, then
// leave makes it go (crash or resign); the sample is the time from leave
// to the next leader's Campaign returning.
func coordSample(srv *etcdServer, prefix string, wait time.Duration, leave func(*coordElection, int) error) (time.Duration, error) {
	dir, err := os.MkdirTemp("", "bc-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	e, err := newCoordElection(srv, dir, prefix, 3)
	if err != nil {
		return 0, err
	}
	defer e.close()
	first, err := next(e.won, -1, 10*time.Second)
	if err != nil {
		return 0, err
	}
	time.Sleep(settle + wait)
	left := time.Now()
	if err := leave(e, first.candidate); err != nil {
		return 0, err
	}
	w, err := next(e.won, first.candidate, 2*coord.DefaultTTL+5*time.Second)
	if err != nil {
		return 0, err
	}
	return w.at.Sub(left), nil
}

// benchCoordCrash: the leader's process dies and nobody revokes its
// session (no supervisor): the next leader waits for the lease to expire,
// DefaultTTL (2s) after its last renewal (every TTL/4).
func benchCoordCrash(b *testing.B) {
	srv, err := sharedEtcd()
	if err != nil {
		b.Fatal(err)
	}
	run := runID()
	reportSamples(b, collect(b, true, func(i int) (sample, error) {
		d, err := coordSample(srv, fmt.Sprintf("/bench/coord-crash/%s/%d/", run, i), phase(coord.DefaultTTL/4),
			func(e *coordElection, leader int) error {
				e.proxies[leader].cutOff()
				return nil
			})
		return sample{d: d}, err
	}))
}

// benchCoordResign: the leader resigns.
func benchCoordResign(b *testing.B) {
	srv, err := sharedEtcd()
	if err != nil {
		b.Fatal(err)
	}
	run := runID()
	reportSamples(b, collect(b, false, func(i int) (sample, error) {
		d, err := coordSample(srv, fmt.Sprintf("/bench/coord-resign/%s/%d/", run, i), 0,
			func(e *coordElection, leader int) error {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := e.leads[leader].Resign(ctx); err != nil && !errors.Is(err, coord.ErrNotHeld) {
					return err
				}
				return nil
			})
		return sample{d: d}, err
	}))
}
