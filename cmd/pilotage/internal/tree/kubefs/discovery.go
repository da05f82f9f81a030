package kubefs

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/klog/v2"
)

// How old a resource table may get. A listing of resource types older
// than staleAfter is refreshed in the background (it is served at once);
// a name not found refreshes the table first, unless it is younger than
// missAfter, so that a burst of misses costs one refresh.
const (
	staleAfter = 5 * time.Second
	missAfter  = time.Second
)

// A resource is a resource type the API server advertises, in the
// preferred version of its group.
type resource struct {
	name       string // in the tree: "pods", "events.events.k8s.io"
	gvr        schema.GroupVersionResource
	kind       string
	namespaced bool
	get        bool // the verbs the tree uses
	update     bool
	delete     bool
}

// core reports whether r is in the core group.
func (r *resource) core() bool { return r.gvr.Group == "" }

// is reports whether r is the resource group/resource.
func (r *resource) is(group, res string) bool {
	return r.gvr.Group == group && r.gvr.Resource == res
}

// A resourceTable is the resource types of a server, as of fetched.
type resourceTable struct {
	fetched time.Time
	// The resources of each scope, sorted by name, and by name and alias.
	namespaced, cluster []*resource
	namespaces          *resource               // core namespaces, served by their own directory
	byName              [2]map[string]*resource // [0] namespaced, [1] cluster
}

// lookup returns the resource named name (or plural.group) in the scope.
func (t *resourceTable) lookup(name string, namespaced bool) *resource {
	return t.byName[scopeIndex(namespaced)][name]
}

func scopeIndex(namespaced bool) int {
	if namespaced {
		return 0
	}
	return 1
}

// newResourceTable builds the table of the preferred resources lists:
// only resources one can list and watch, subresources and namespaces
// (served by their own directory) left out. A plural shared by several
// groups in one scope is kept for the core group's, the others are
// named plural.group, as kubectl names them.
func newResourceTable(lists []*metav1.APIResourceList, fetched time.Time) *resourceTable {
	t := &resourceTable{fetched: fetched}
	var all []*resource
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue // a server's bad group version: nothing to serve
		}
		for _, ar := range l.APIResources {
			if strings.Contains(ar.Name, "/") || !hasVerbs(ar.Verbs, "list", "watch") {
				continue
			}
			r := &resource{
				name:       ar.Name,
				gvr:        gv.WithResource(ar.Name),
				kind:       ar.Kind,
				namespaced: ar.Namespaced,
				get:        hasVerbs(ar.Verbs, "get"),
				update:     hasVerbs(ar.Verbs, "update"),
				delete:     hasVerbs(ar.Verbs, "delete"),
			}
			if r.is("", "namespaces") {
				t.namespaces = r
				continue
			}
			all = append(all, r)
		}
	}
	// Which plurals have a core resource, and how many groups have each.
	type scoped struct {
		plural     string
		namespaced bool
	}
	count, core := map[scoped]int{}, map[scoped]bool{}
	for _, r := range all {
		k := scoped{r.gvr.Resource, r.namespaced}
		count[k]++
		core[k] = core[k] || r.core()
	}
	t.byName = [2]map[string]*resource{{}, {}}
	for _, r := range all {
		k := scoped{r.gvr.Resource, r.namespaced}
		if count[k] > 1 && !r.core() {
			r.name = r.gvr.Resource + "." + r.gvr.Group
		}
		names := t.byName[scopeIndex(r.namespaced)]
		names[r.name] = r
		if !r.core() {
			names[r.gvr.Resource+"."+r.gvr.Group] = r
		}
		if r.namespaced {
			t.namespaced = append(t.namespaced, r)
		} else {
			t.cluster = append(t.cluster, r)
		}
	}
	byName := func(a, b *resource) int { return strings.Compare(a.name, b.name) }
	slices.SortFunc(t.namespaced, byName)
	slices.SortFunc(t.cluster, byName)
	return t
}

func hasVerbs(verbs metav1.Verbs, want ...string) bool {
	for _, w := range want {
		if !slices.Contains(verbs, w) {
			return false
		}
	}
	return true
}

// A discoverer keeps the resource table of one server, fetched through
// client-go's memory-cached discovery client.
type discoverer struct {
	client discovery.CachedDiscoveryInterfaceWithContext
	bg     context.Context // runs background refreshes: the FS's
	wg     *sync.WaitGroup // counts them

	fetching sync.Mutex // held while fetching, so that one fetch runs at a time

	mu      sync.Mutex // guards what follows; never held while fetching
	table   *resourceTable
	pending bool // a background refresh is under way
}

// cached returns the table fetched last, or nil.
func (d *discoverer) cached() *resourceTable {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.table
}

// current returns the table, fetching it if there is none yet.
func (d *discoverer) current(ctx context.Context) (*resourceTable, error) {
	if t := d.cached(); t != nil {
		return t, nil
	}
	return d.refresh(ctx, time.Time{})
}

// listing returns the table for a listing of resource types: the current
// one, and if it is older than staleAfter, it starts a refresh in the
// background for the next listing.
func (d *discoverer) listing(ctx context.Context) (*resourceTable, error) {
	t, err := d.current(ctx)
	if err != nil || time.Since(t.fetched) <= staleAfter {
		return t, err
	}
	d.mu.Lock()
	start := !d.pending
	d.pending = true
	d.mu.Unlock()
	if start {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			// A failure leaves the old table; the next listing tries again.
			_, _ = d.refresh(d.bg, t.fetched)
			d.mu.Lock()
			d.pending = false
			d.mu.Unlock()
		}()
	}
	return t, nil
}

// lookup returns the resource named name in the scope, refreshing the
// table once if it does not have it (a custom resource created since);
// nil if the server has no such resource.
func (d *discoverer) lookup(ctx context.Context, name string, namespaced bool) (*resource, error) {
	t, err := d.current(ctx)
	if err != nil {
		return nil, err
	}
	if r := t.lookup(name, namespaced); r != nil || time.Since(t.fetched) < missAfter {
		return r, nil
	}
	if t, err = d.refresh(ctx, t.fetched); err != nil {
		return nil, err
	}
	return t.lookup(name, namespaced), nil
}

// refresh fetches the table anew unless one newer than after was fetched
// meanwhile (by a concurrent refresh), and returns it.
func (d *discoverer) refresh(ctx context.Context, after time.Time) (*resourceTable, error) {
	d.fetching.Lock()
	defer d.fetching.Unlock()
	old := d.cached()
	if old != nil && old.fetched.After(after) {
		return old, nil
	}
	// The discovery client logs its failures with klog: the tree reports
	// them in its errors instead.
	ctx = klog.NewContext(ctx, logr.Discard())
	start := time.Now()
	if old != nil {
		d.client.InvalidateWithContext(ctx)
	}
	lists, err := discovery.ServerPreferredResourcesWithContext(ctx, d.client)
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		// A group failing (an aggregated API down) leaves the others.
		return nil, fmt.Errorf("discover resources: %w", err)
	}
	t := newResourceTable(lists, start)
	d.mu.Lock()
	d.table = t
	d.mu.Unlock()
	return t, nil
}
