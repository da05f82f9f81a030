package appfs

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
)

// Pacing of the watch caches; variables for tests.
var (
	// syncTimeout bounds the wait of a first Stat or List of an app for
	// its cache's first sync.
	syncTimeout = 10 * time.Second
	// retryMin and retryMax bound the wait before a broken watch is
	// started again (doubling from retryMin while it fails).
	retryMin = 100 * time.Millisecond
	retryMax = 2 * time.Second
)

// An appCache is the resources of one app as one recursive watch of its
// control API keeps them.
type appCache struct {
	app     appRef
	client  *control.Client
	apiRoot string // "/apps/<name>"
	started time.Time
	cancel  context.CancelFunc
	done    chan struct{} // closed when run returned

	ready     chan struct{} // closed at the first sync, or the first failure
	readyOnce sync.Once

	mu      sync.Mutex
	entries map[string]*entry          // by path relative to apiRoot ("" for the app)
	kids    map[string]map[string]bool // relative paths of the children of each relative path
	version uint64
	synced  bool  // it synced once: entries may be served
	live    bool  // the watch is up
	err     error // the watch's last failure; nil while live
	// changed is closed, and replaced, at every change of entries.
	changed chan struct{}
}

// newAppCache starts the watch of app a; Close stops it.
func newAppCache(parent context.Context, a appRef) *appCache {
	ctx, cancel := context.WithCancel(parent)
	c := &appCache{
		app:     a,
		client:  control.Dial(a.dir),
		apiRoot: api.Join(api.Apps, a.name),
		started: time.Now(),
		cancel:  cancel,
		done:    make(chan struct{}),
		ready:   make(chan struct{}),
		entries: map[string]*entry{},
		kids:    map[string]map[string]bool{},
		changed: make(chan struct{}),
	}
	go c.run(ctx)
	return c
}

// close stops the watch and waits for it to end.
func (c *appCache) close() {
	c.cancel()
	<-c.done
	c.client.Close()
}

// run keeps the watch up until ctx ends: it resumes from the last version
// it saw, or lists again (a watch without a version) when the supervisor
// forgot that version.
func (c *appCache) run(ctx context.Context) {
	defer close(c.done)
	backoff := retryMin
	for ctx.Err() == nil {
		c.mu.Lock()
		from := c.version
		c.mu.Unlock()
		established, err := c.watch(ctx, from)
		if ctx.Err() != nil {
			return
		}
		c.fail(err)
		if errors.Is(err, api.ErrExpired) {
			c.mu.Lock()
			c.version = 0 // list again, at once
			c.mu.Unlock()
			continue
		}
		if established {
			backoff = retryMin
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, retryMax)
	}
}

// watch runs one watch from version from (0: a new list) until it fails,
// and says whether the supervisor answered it.
func (c *appCache) watch(ctx context.Context, from uint64) (established bool, err error) {
	w, err := c.client.Watch(ctx, c.apiRoot, control.WatchOptions{Recursive: true, ResourceVersion: from})
	if err != nil {
		return false, err
	}
	defer w.Close()
	// Without a version, the watch begins with what is there, then a
	// BOOKMARK: the entries are replaced once it came.
	var staging *entrySet
	if from == 0 {
		staging = newEntrySet()
	} else {
		c.setLive()
	}
	for {
		ev, err := w.Next()
		if err != nil {
			return true, err
		}
		if staging != nil {
			switch ev.Type {
			case api.Bookmark:
				c.replace(staging, ev.ResourceVersion)
				staging = nil
			case api.Added, api.Modified:
				staging.put(c.relative(ev.Resource))
			case api.Deleted:
				staging.remove(c.relative(ev.Resource))
			}
			continue
		}
		c.apply(ev)
	}
}

// relative returns the entry of r, at its path relative to apiRoot; nil
// for a resource outside of it.
func (c *appCache) relative(r *api.Resource) (string, *entry) {
	if r == nil || !api.Within(r.Path, c.apiRoot) {
		return "", nil
	}
	return strings.TrimPrefix(r.Path, c.apiRoot), newEntry(r)
}

// An entrySet is the entries of a list under way.
type entrySet struct {
	entries map[string]*entry
	kids    map[string]map[string]bool
}

func newEntrySet() *entrySet {
	return &entrySet{entries: map[string]*entry{}, kids: map[string]map[string]bool{}}
}

func (s *entrySet) put(rel string, e *entry) {
	if e == nil {
		return
	}
	s.entries[rel] = e
	if rel == "" {
		return
	}
	parent := api.Parent(rel)
	if parent == "/" {
		parent = ""
	}
	if s.kids[parent] == nil {
		s.kids[parent] = map[string]bool{}
	}
	s.kids[parent][rel] = true
}

func (s *entrySet) remove(rel string, e *entry) {
	if e == nil {
		return
	}
	delete(s.entries, rel)
	parent := api.Parent(rel)
	if parent == "/" {
		parent = ""
	}
	delete(s.kids[parent], rel)
	if len(s.kids[parent]) == 0 {
		delete(s.kids, parent)
	}
}

// replace makes s the entries, as of version.
func (c *appCache) replace(s *entrySet, version uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries, c.kids, c.version = s.entries, s.kids, version
	c.synced, c.live, c.err = true, true, nil
	c.changedLocked()
	c.readyOnce.Do(func() { close(c.ready) })
}

// apply applies one event of a watch that resumed.
func (c *appCache) apply(ev api.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	set := &entrySet{entries: c.entries, kids: c.kids}
	switch ev.Type {
	case api.Added, api.Modified:
		set.put(c.relative(ev.Resource))
	case api.Deleted:
		set.remove(c.relative(ev.Resource))
	}
	c.version = ev.ResourceVersion
	if ev.Type != api.Bookmark {
		c.changedLocked()
	}
}

// changedLocked wakes those waiting for a change. c.mu is held.
func (c *appCache) changedLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *appCache) setLive() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.live, c.err = true, nil
}

// fail records that the watch broke with err.
func (c *appCache) fail(err error) {
	c.mu.Lock()
	c.live, c.err = false, err
	c.changedLocked() // watchers look again, and learn the app went away
	c.mu.Unlock()
	c.readyOnce.Do(func() { close(c.ready) })
}

// usable waits, until syncTimeout after the cache started, for its first
// sync (or its watch's first failure), and returns nil if its entries may
// be served: the watch is up, or it synced once and is only reconnecting.
// Otherwise it returns why.
func (c *appCache) usable(ctx context.Context) error {
	select {
	case <-c.ready:
	default:
		t := time.NewTimer(time.Until(c.started.Add(syncTimeout)))
		defer t.Stop()
		select {
		case <-c.ready:
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return api.Errorf(api.CodeUnavailable, "no answer to a watch of %s within %v", c.apiRoot, syncTimeout)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.live || c.synced && !unreachable(c.err) {
		return nil
	}
	return c.err
}

// snapshot calls f with the entries, under the cache's lock: f must not
// block.
func (c *appCache) snapshot(f func(entries map[string]*entry, kids map[string]map[string]bool)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(c.entries, c.kids)
}

// changes returns a channel closed at the next change of the entries, or
// failure of the watch.
func (c *appCache) changes() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}
