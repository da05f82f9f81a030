// Package etcdbackend implements backend.Backend on an etcd cluster,
// through etcd's Go client (go.etcd.io/etcd/client/v3).
//
// Every call is one etcd request (a Txn, a Range, a lease call) or one
// watch. Watches survive a lost connection: the client reconnects and
// resumes each watch after the last revision it delivered, so no event is
// lost or repeated.
package etcdbackend

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pilotage/pilotage/coord/internal/backend"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// Config configures New.
type Config struct {
	// Endpoints of the cluster: "unix:///path", "http://host:port", ...
	Endpoints []string
	// DialTimeout bounds establishing a connection, and every request
	// (watches aside) whose context has no deadline: the client waits for
	// a connection for ever otherwise (default 5s).
	DialTimeout time.Duration
}

// A Backend is a backend.Backend on an etcd client.
type Backend struct {
	client         *clientv3.Client
	requestTimeout time.Duration
}

var _ backend.Backend = (*Backend)(nil)

// New returns a Backend on a client of cfg's endpoints. It does not wait
// for the cluster to answer: the first request tells whether it is
// reachable.
func New(cfg Config) (*Backend, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("etcd: no endpoints")
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	client, err := clientv3.New(clientv3.Config{
		Endpoints:   cfg.Endpoints,
		DialTimeout: cfg.DialTimeout,
		// A half-open connection would stall watches (which have no
		// deadline) until TCP gives up: probe it.
		DialKeepAliveTime:    5 * time.Second,
		DialKeepAliveTimeout: 2 * time.Second,
		PermitWithoutStream:  true,
		// gRPC's reconnection backoff grows to 120 s: a store that was
		// down for 10 s would be found again only 16 s after it failed.
		// Retry at least every second, so a restarted store (a pod
		// replaced) is found within a second of serving.
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: cfg.DialTimeout,
		})},
		// The client's own logs would go to the app's stderr; its errors
		// reach the caller as errors.
		Logger: zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client for %v: %w", cfg.Endpoints, err)
	}
	return &Backend{client: client, requestTimeout: cfg.DialTimeout}, nil
}

// bound gives a request without a deadline the backend's.
func (b *Backend) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, b.requestTimeout)
}

// Close closes the client.
func (b *Backend) Close() error {
	if err := b.client.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("etcd: close: %w", err)
	}
	return nil
}

// Txn applies t as one etcd transaction.
func (b *Backend) Txn(ctx context.Context, t backend.Txn) (backend.TxnResult, error) {
	cmps := make([]clientv3.Cmp, len(t.If))
	for i, c := range t.If {
		switch c.Field {
		case backend.CreateRevision:
			cmps[i] = clientv3.Compare(clientv3.CreateRevision(c.Key), "=", c.Revision)
		case backend.ModRevision:
			cmps[i] = clientv3.Compare(clientv3.ModRevision(c.Key), "=", c.Revision)
		default:
			return backend.TxnResult{}, fmt.Errorf("etcd: txn: unknown compare field %d", c.Field)
		}
	}
	then, err := ops(t.Then)
	if err != nil {
		return backend.TxnResult{}, err
	}
	els, err := ops(t.Else)
	if err != nil {
		return backend.TxnResult{}, err
	}
	ctx, cancel := b.bound(ctx)
	defer cancel()
	resp, err := b.client.Txn(ctx).If(cmps...).Then(then...).Else(els...).Commit()
	if err != nil {
		return backend.TxnResult{}, translate(err)
	}
	res := backend.TxnResult{
		Succeeded: resp.Succeeded,
		Revision:  resp.Header.Revision,
		Results:   make([]backend.OpResult, len(resp.Responses)),
	}
	for i, r := range resp.Responses {
		switch {
		case r.GetResponseRange() != nil:
			res.Results[i].KVs = kvs(r.GetResponseRange().Kvs)
		case r.GetResponseDeleteRange() != nil:
			d := r.GetResponseDeleteRange()
			res.Results[i].KVs = kvs(d.PrevKvs)
			res.Results[i].Deleted = d.Deleted
		}
	}
	return res, nil
}

// Get reads the keys op names.
func (b *Backend) Get(ctx context.Context, op backend.Op) ([]backend.KeyValue, int64, error) {
	if op.Kind != backend.OpGet {
		return nil, 0, fmt.Errorf("etcd: get: op kind %d is not a get", op.Kind)
	}
	ctx, cancel := b.bound(ctx)
	defer cancel()
	resp, err := b.client.Get(ctx, op.Key, getOptions(op)...)
	if err != nil {
		return nil, 0, translate(err)
	}
	return kvs(resp.Kvs), resp.Header.Revision, nil
}

// Watch streams the changes of key (or of the keys under it) from
// revision from on.
func (b *Backend) Watch(ctx context.Context, key string, prefix bool, from int64) <-chan backend.WatchResponse {
	out := make(chan backend.WatchResponse)
	opts := []clientv3.OpOption{clientv3.WithRev(from)}
	if prefix {
		opts = append(opts, clientv3.WithPrefix())
	}
	// The client's channel closes once ctx ends; a separate context lets
	// this goroutine end it too, when it stops on an error.
	wctx, cancel := context.WithCancel(ctx)
	wch := b.client.Watch(wctx, key, opts...)
	go func() {
		defer close(out)
		defer cancel()
		send := func(r backend.WatchResponse) bool {
			select {
			case out <- r:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for resp := range wch {
			if resp.CompactRevision != 0 {
				send(backend.WatchResponse{Err: fmt.Errorf("etcd: watch %q from revision %d (compacted up to %d): %w", key, from, resp.CompactRevision, backend.ErrCompacted)})
				return
			}
			if err := resp.Err(); err != nil {
				if ctx.Err() == nil {
					send(backend.WatchResponse{Err: fmt.Errorf("etcd: watch %q: %w", key, translate(err))})
				}
				return
			}
			if len(resp.Events) == 0 {
				continue // progress notifications
			}
			evs := make([]backend.Event, len(resp.Events))
			for i, ev := range resp.Events {
				evs[i].KV = kv(ev.Kv)
				if ev.Type == clientv3.EventTypeDelete {
					evs[i].Type = backend.EventDelete
				}
			}
			if !send(backend.WatchResponse{Events: evs}) {
				return
			}
		}
	}()
	return out
}

// Grant creates a lease of ttl, rounded up to whole seconds (etcd's
// unit).
func (b *Backend) Grant(ctx context.Context, ttl time.Duration) (backend.LeaseID, error) {
	secs := int64((ttl + time.Second - 1) / time.Second)
	ctx, cancel := b.bound(ctx)
	defer cancel()
	resp, err := b.client.Grant(ctx, max(secs, 1))
	if err != nil {
		return 0, translate(err)
	}
	return backend.LeaseID(resp.ID), nil
}

// KeepAliveOnce renews lease id once.
func (b *Backend) KeepAliveOnce(ctx context.Context, id backend.LeaseID) (time.Duration, error) {
	ctx, cancel := b.bound(ctx)
	defer cancel()
	resp, err := b.client.KeepAliveOnce(ctx, clientv3.LeaseID(id))
	if err != nil {
		return 0, translate(err)
	}
	return time.Duration(resp.TTL) * time.Second, nil
}

// Revoke ends lease id.
func (b *Backend) Revoke(ctx context.Context, id backend.LeaseID) error {
	ctx, cancel := b.bound(ctx)
	defer cancel()
	if _, err := b.client.Revoke(ctx, clientv3.LeaseID(id)); err != nil {
		return translate(err)
	}
	return nil
}

// TimeToLive returns the remaining time to live of lease id.
func (b *Backend) TimeToLive(ctx context.Context, id backend.LeaseID) (time.Duration, error) {
	ctx, cancel := b.bound(ctx)
	defer cancel()
	resp, err := b.client.TimeToLive(ctx, clientv3.LeaseID(id))
	if err != nil {
		return 0, translate(err)
	}
	if resp.TTL < 0 {
		return 0, backend.ErrLeaseNotFound
	}
	return time.Duration(resp.TTL) * time.Second, nil
}

func ops(in []backend.Op) ([]clientv3.Op, error) {
	out := make([]clientv3.Op, len(in))
	for i, op := range in {
		switch op.Kind {
		case backend.OpGet:
			out[i] = clientv3.OpGet(op.Key, getOptions(op)...)
		case backend.OpPut:
			var opts []clientv3.OpOption
			if op.Lease != 0 {
				opts = append(opts, clientv3.WithLease(clientv3.LeaseID(op.Lease)))
			}
			out[i] = clientv3.OpPut(op.Key, string(op.Value), opts...)
		case backend.OpDelete:
			opts := []clientv3.OpOption{clientv3.WithPrevKV()}
			if op.Prefix {
				opts = append(opts, clientv3.WithPrefix())
			}
			out[i] = clientv3.OpDelete(op.Key, opts...)
		default:
			return nil, fmt.Errorf("etcd: txn: unknown op kind %d", op.Kind)
		}
	}
	return out, nil
}

func getOptions(op backend.Op) []clientv3.OpOption {
	var opts []clientv3.OpOption
	if op.Prefix {
		opts = append(opts, clientv3.WithPrefix())
	}
	if op.SortByCreate {
		opts = append(opts, clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortAscend))
	}
	if op.Limit > 0 {
		opts = append(opts, clientv3.WithLimit(op.Limit))
	}
	return opts
}

func kvs(in []*mvccpb.KeyValue) []backend.KeyValue {
	if len(in) == 0 {
		return nil
	}
	out := make([]backend.KeyValue, len(in))
	for i, k := range in {
		out[i] = kv(k)
	}
	return out
}

func kv(k *mvccpb.KeyValue) backend.KeyValue {
	return backend.KeyValue{
		Key:            string(k.Key),
		Value:          k.Value,
		CreateRevision: k.CreateRevision,
		ModRevision:    k.ModRevision,
		Version:        k.Version,
		Lease:          backend.LeaseID(k.Lease),
	}
}

// translate maps etcd's errors onto the backend's.
func translate(err error) error {
	switch {
	case errors.Is(err, rpctypes.ErrLeaseNotFound):
		return fmt.Errorf("etcd: %w", backend.ErrLeaseNotFound)
	case errors.Is(err, rpctypes.ErrCompacted):
		return fmt.Errorf("etcd: %w", backend.ErrCompacted)
	}
	return fmt.Errorf("etcd: %w", err)
}
