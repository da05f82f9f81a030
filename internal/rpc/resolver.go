package rpc

import "context"

// A Resolver tells a Pool where the replicas of one component are: the
// deployer's push (the proclet's routes), a registry, Kubernetes
// EndpointSlices. The Pool does not know which.
type Resolver interface {
	// Resolve returns the component's endpoints once they differ from
	// version (at once if version is 0 or already stale), or ctx's error
	// once ctx ends. Any other error is retried, with backoff, by the
	// Pool, which keeps the endpoints it had.
	Resolve(ctx context.Context, version uint64) (Endpoints, error)
}

// Endpoints are a component's addresses, and why it has none.
type Endpoints struct {
	Addrs  []string // as Pool takes them ("unix:/p", "tcp:host:port", ...)
	Outage Outage   // when Addrs is empty: the reason callers are told
	// Version identifies this set: non-zero, and different from the
	// previous one whenever the set changed.
	Version uint64
}

// A StaticResolver resolves to fixed endpoints, at version 1.
type StaticResolver struct {
	Addrs  []string
	Outage Outage // when Addrs is empty
}

// Resolve returns the endpoints, or waits for ctx if version is already 1.
func (r StaticResolver) Resolve(ctx context.Context, version uint64) (Endpoints, error) {
	if version == 1 {
		<-ctx.Done()
		return Endpoints{}, ctx.Err()
	}
	return Endpoints{Addrs: r.Addrs, Outage: r.Outage, Version: 1}, nil
}
