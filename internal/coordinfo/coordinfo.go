// Package coordinfo hands the coordination store a deployer named to the
// coordination library (github.com/pilotage/pilotage/coord) in the same
// process. The runtime (internal/proclet) calls Set from the deployer's
// Init before any component starts; coord.Open calls Get, and, when
// nothing was set (a single process: "go run .", pilotagetest), uses an
// in-memory store of its own process instead.
//
// It is a package of its own, with no dependency, so that the runtime does
// not import the coordination library (and its etcd client) to pass it
// four strings.
package coordinfo

import (
	"slices"
	"sync"
	"time"
)

// Info is the coordination store of this process, and who the process is
// in it.
type Info struct {
	// Endpoints are the etcd client URLs ("unix:///path/etcd.sock",
	// "http://host:2379").
	Endpoints []string
	// Prefix goes before every key of the app ("/pilotage/shop/").
	Prefix string
	// TTL of the session leases; zero means the library's default.
	TTL time.Duration
	// App, Deployment and Replica identify this process: the app's name,
	// the build running, and the deployer's id of this replica
	// ("cart.Cart/1", a pod name), under which its sessions are
	// registered so that the deployer can revoke them when it dies.
	App, Deployment, Replica string
}

var (
	mu   sync.Mutex
	info Info
	set  bool
)

// Set records the coordination store of this process, replacing any
// earlier one.
func Set(i Info) {
	mu.Lock()
	defer mu.Unlock()
	i.Endpoints = slices.Clone(i.Endpoints)
	info, set = i, true
}

// Get returns what Set recorded; ok is false if it was never called.
func Get() (i Info, ok bool) {
	mu.Lock()
	defer mu.Unlock()
	i = info
	i.Endpoints = slices.Clone(info.Endpoints)
	return i, set
}

// AppPrefix is the key prefix every deployer gives app's keys in its
// store ("/pilotage/shop/"), so that apps can share one etcd cluster and
// an app finds its keys under whichever deployer runs it.
func AppPrefix(app string) string { return "/pilotage/" + app + "/" }

var (
	drainMu    sync.Mutex
	drainHooks = map[*func()]bool{}
	drained    bool
)

// OnDrain registers f to run, in a goroutine of its own, once the
// deployer says this process is leaving (Drain): callers are being sent
// elsewhere and a Stop follows. A process already drained runs f at once.
// remove unregisters f.
func OnDrain(f func()) (remove func()) {
	drainMu.Lock()
	defer drainMu.Unlock()
	if drained {
		go f()
		return func() {}
	}
	key := &f
	drainHooks[key] = true
	return func() {
		drainMu.Lock()
		defer drainMu.Unlock()
		delete(drainHooks, key)
	}
}

// Drain runs the hooks OnDrain registered; only the first call does.
// The runtime calls it when its deployer sends Drain.
func Drain() {
	drainMu.Lock()
	defer drainMu.Unlock()
	if drained {
		return
	}
	drained = true
	for f := range drainHooks {
		go (*f)()
	}
	clear(drainHooks)
}
