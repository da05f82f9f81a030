package deployfs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/coordview"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/deploy"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/podconn"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
	"github.com/pilotage/pilotage/coord"
)

// storeTimeout bounds reaching an app's coordination store, and one
// read of it.
const storeTimeout = 10 * time.Second

// shellReplica is the replica name of the shell's sessions in a store.
const shellReplica = "pilotage-shell"

// A storeConn is the connection to one app's coordination store, made on
// first use and again after it broke.
type storeConn struct {
	c   *deploy.Cluster
	app string

	mu      sync.Mutex
	store   *coord.Store        // nil until connected
	forward *podconn.Forwarding // to the store's pod, if it runs in the cluster
	none    bool                // the app uses no store
	closed  bool
}

// get returns the store, connecting to it unless connected; nil if the
// app uses none.
func (s *storeConn) get(ctx context.Context) (*coord.Store, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("%w: the tree was closed", tree.ErrUnavailable)
	}
	if s.forward != nil && s.forward.Err() != nil { // the store's pod went: connect again
		_ = s.disconnectLocked() // the client of a forward that ended has nothing to close cleanly
	}
	if s.store != nil || s.none {
		return s.store, nil
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	info, err := s.c.Coordination(ctx, s.app)
	if err != nil {
		return nil, fmt.Errorf("its coordination store: %w (%w)", err, tree.ErrUnavailable)
	}
	if info == nil {
		s.none = true
		return nil, nil
	}
	endpoints := info.Endpoints
	if slices.Equal(endpoints, layout.StoreEndpoints(s.app, len(endpoints))) {
		// The store the deploy runs: its endpoints are names of the
		// cluster's DNS; a port-forward reaches one of its members.
		f, err := s.forwardToMember(ctx, len(endpoints))
		if err != nil {
			return nil, err
		}
		s.forward, endpoints = f, []string{"http://" + f.Addr()}
	}
	store, err := coord.Connect(ctx, coord.Options{Endpoints: endpoints, Prefix: info.Prefix, Replica: shellReplica, DialTimeout: storeTimeout})
	if err != nil {
		_ = s.disconnectLocked() // no client: only the forward to end
		return nil, fmt.Errorf("its coordination store at %v: %w (%w)", endpoints, err, tree.ErrUnavailable)
	}
	s.store = store
	return store, nil
}

// forwardToMember opens a port-forward to the first ready member of the
// store of n members.
func (s *storeConn) forwardToMember(ctx context.Context, n int) (*podconn.Forwarding, error) {
	var errs []error
	for i := range n {
		name := layout.StorePodName(s.app, i)
		p, err := s.c.Client.CoreV1().Pods(s.c.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			errs = append(errs, fmt.Errorf("pod %s: %w", name, kubeError(err)))
			continue
		}
		if !podReady(p) {
			errs = append(errs, fmt.Errorf("pod %s is not ready", name))
			continue
		}
		f, err := podconn.Forward(ctx, s.c.Config, s.c.Client.CoreV1().RESTClient(), s.c.Namespace, name, layout.StoreClientPort)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		return f, nil
	}
	return nil, fmt.Errorf("no member of its coordination store %s to reach: %w (%w)", layout.Store(s.app), errors.Join(errs...), tree.ErrUnavailable)
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// broke drops the connection if err says the store cannot be reached:
// the next use connects again (to another member, if this one went).
func (s *storeConn) broke(err error) {
	if !errors.Is(err, coord.ErrUnavailable) && !errors.Is(err, context.DeadlineExceeded) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Closing a client of a store that does not answer can only fail
	// too: the error that broke it is the caller's to report.
	_ = s.disconnectLocked()
}

// disconnectLocked closes the client and the port-forward. s.mu is held.
func (s *storeConn) disconnectLocked() error {
	var err error
	if s.store != nil {
		err = s.store.Close()
		s.store = nil
	}
	if s.forward != nil {
		s.forward.Close()
		s.forward = nil
	}
	return err
}

// close ends the connection and the port-forward, for good.
func (s *storeConn) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return s.disconnectLocked()
}

// resources reads the locks, elections and config keys of the store, as
// resources below the app (none if the app uses no store).
func (s *storeConn) resources(ctx context.Context) ([]api.Resource, error) {
	store, err := s.get(ctx)
	if err != nil || store == nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	res, err := readStore(ctx, store)
	if err != nil {
		s.broke(err)
		return nil, storeError("read", err)
	}
	return res, nil
}

// readStore reads the locks, elections and config keys of store as the
// supervisor's control API shows them (package coordview).
func readStore(ctx context.Context, store *coord.Store) ([]api.Resource, error) {
	st, err := coordview.Read(ctx, store)
	if err != nil {
		return nil, err
	}
	b := &builder{}
	for _, l := range st.Locks {
		b.add(api.KindLock, l, []string{api.ActionRelease}, api.Locks, l.Name)
	}
	for _, l := range st.Leaders {
		b.add(api.KindLeader, l, nil, api.Leaders, l.Election)
	}
	for _, k := range st.Keys {
		b.add(api.KindConfigKey, k, nil, api.Config, k.Key)
	}
	return b.res, b.err
}

// storeError returns err, of the store, doing op, wrapping the tree
// sentinel of its kind.
func storeError(op string, err error) error {
	kind := tree.ErrUnavailable
	switch {
	case errors.Is(err, coord.ErrNotFound):
		kind = tree.ErrNotFound
	case errors.Is(err, coord.ErrConflict):
		kind = tree.ErrConflict
	case errors.Is(err, coord.ErrInvalid):
		kind = tree.ErrInvalid
	}
	return fmt.Errorf("%s its coordination store: %w (%w)", op, err, kind)
}
