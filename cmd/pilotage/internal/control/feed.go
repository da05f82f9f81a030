package control

import (
	"bytes"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
)

// Bounds of a feed: a flood of changes, or a watcher that does not read,
// cannot make the server hold more than this.
var (
	historyLimit  = 4096 // events kept for watches to resume from
	watcherBuffer = 1024 // events queued for one watcher; one more drops it
)

// Pacing of a feed.
var (
	minSyncInterval = 25 * time.Millisecond  // between two syncs after notifications
	resyncInterval  = 500 * time.Millisecond // a sync while someone watches, for changes the backend did not notify
)

// A feed versions a Backend's snapshots: it diffs each against the last,
// gives every change the next resource version, keeps the last
// historyLimit changes, and hands them to watchers.
type feed struct {
	b                    Backend
	historyLimit, buffer int // historyLimit and watcherBuffer when it was made

	// syncMu is held across a snapshot and its diff, so that snapshots
	// are applied in the order they were taken. It is taken before mu;
	// nobody holds it while holding a lock Snapshot takes.
	syncMu sync.Mutex

	mu       sync.Mutex
	version  uint64            // of the last change
	floor    uint64            // every change after it is in history
	cur      map[string]*entry // by path
	history  []api.Event       // oldest first
	watchers map[*watcher]struct{}
}

// An entry is the current state of one resource.
type entry struct {
	res api.Resource // with Status the served one (Live, if any)
	key []byte       // what a change is judged by
}

// A watcher receives the changes of the resources a watch covers.
type watcher struct {
	root      string
	recursive bool
	ch        chan api.Event
	dropped   bool // it fell behind; ch is closed
}

// newFeed returns a feed of b whose versions begin at start, in
// microseconds.
func newFeed(b Backend, start time.Time) *feed {
	v := uint64(start.UnixMicro())
	return &feed{b: b, historyLimit: historyLimit, buffer: watcherBuffer, version: v, floor: v, cur: map[string]*entry{}, watchers: map[*watcher]struct{}{}}
}

// run syncs the feed at once, then, while someone watches, after every
// notification of the backend (at most every minSyncInterval) and every
// resyncInterval, until stop is closed. Nobody watching, gets and lists
// sync: changes in between coalesce, as a watch from the version of a
// list wants them. Listen does not sync itself: its caller may hold
// locks the backend's Snapshot takes.
func (f *feed) run(stop <-chan struct{}) {
	f.sync()
	t := time.NewTicker(resyncInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-f.b.Changed():
		case <-t.C:
		}
		f.mu.Lock()
		idle := len(f.watchers) == 0
		f.mu.Unlock()
		if idle {
			continue
		}
		f.sync()
		select {
		case <-stop:
			return
		case <-time.After(minSyncInterval):
		}
	}
}

// sync takes a snapshot of the backend and records what changed since the
// last one.
func (f *feed) sync() {
	f.syncMu.Lock()
	defer f.syncMu.Unlock()
	next := tree(f.b.Snapshot())
	f.mu.Lock()
	defer f.mu.Unlock()
	var events []api.Event
	paths := make([]string, 0, len(next))
	for p := range next {
		paths = append(paths, p)
	}
	sort.Strings(paths) // parents before children
	for _, p := range paths {
		n, old := next[p], f.cur[p]
		switch {
		case old == nil:
			f.version++
			n.res.ResourceVersion = f.version
			events = append(events, event(api.Added, n.res))
		case !bytes.Equal(old.key, n.key):
			f.version++
			n.res.ResourceVersion = f.version
			events = append(events, event(api.Modified, n.res))
		default:
			n.res.ResourceVersion = old.res.ResourceVersion // live counters only
		}
	}
	var gone []string
	for p := range f.cur {
		if next[p] == nil {
			gone = append(gone, p)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(gone))) // children before parents
	for _, p := range gone {
		f.version++
		r := f.cur[p].res
		r.ResourceVersion = f.version
		events = append(events, event(api.Deleted, r))
	}
	f.cur = next
	for _, ev := range events {
		f.record(ev)
	}
}

func event(t api.EventType, r api.Resource) api.Event {
	return api.Event{Type: t, ResourceVersion: r.ResourceVersion, Resource: &r}
}

// record appends ev to the history and hands it to the watchers that
// cover it. f.mu is held.
func (f *feed) record(ev api.Event) {
	f.history = append(f.history, ev)
	if n := len(f.history) - f.historyLimit; n > 0 {
		f.floor = f.history[n-1].ResourceVersion
		f.history = slices.Delete(f.history, 0, n)
	}
	for w := range f.watchers {
		if !w.covers(ev.Resource.Path) {
			continue
		}
		select {
		case w.ch <- ev:
		default:
			f.drop(w)
		}
	}
}

// drop ends a watcher that fell behind. f.mu is held.
func (f *feed) drop(w *watcher) {
	delete(f.watchers, w)
	w.dropped = true
	close(w.ch)
}

// covers reports whether a watch of w covers the resource at path: its
// root, the root's children, or, recursively, everything below it.
func (w *watcher) covers(path string) bool {
	if path == w.root || w.recursive {
		return api.Within(path, w.root)
	}
	return api.Parent(path) == w.root
}

// get returns the resource at path, as of a fresh snapshot.
func (f *feed) get(path string) (api.Resource, bool) {
	f.sync()
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.cur[path]
	if e == nil {
		return api.Resource{}, false
	}
	return e.res, true
}

// list returns the children of path (or everything below it), sorted by
// path, and the version they are consistent with, as of a fresh
// snapshot; false if nothing is at path.
func (f *feed) list(path string, recursive bool) ([]api.Resource, uint64, bool) {
	f.sync()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cur[path] == nil {
		return nil, 0, false
	}
	w := watcher{root: path, recursive: recursive}
	items := []api.Resource{}
	for p, e := range f.cur {
		if p != path && w.covers(p) {
			items = append(items, e.res)
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Path < items[j].Path })
	return items, f.version, true
}

// watch starts a watch of path (and its children, or everything below it)
// from version from: it returns the events after from that the history
// holds, and a watcher receiving the later ones. With from zero, the
// events are ADDED for what is there now, each at the current version (a
// client resuming from any of them misses nothing), then a BOOKMARK of
// it. It fails with CodeExpired if from is older than the history or
// newer than the feed.
func (f *feed) watch(path string, recursive bool, from uint64) ([]api.Event, *watcher, error) {
	f.sync()
	f.mu.Lock()
	defer f.mu.Unlock()
	w := &watcher{root: path, recursive: recursive, ch: make(chan api.Event, f.buffer)}
	var backlog []api.Event
	switch {
	case from == 0:
		if f.cur[path] == nil {
			return nil, nil, api.Errorf(api.CodeNotFound, "no resource at %s", path)
		}
		paths := make([]string, 0, len(f.cur))
		for p := range f.cur {
			if w.covers(p) {
				paths = append(paths, p)
			}
		}
		sort.Strings(paths)
		for _, p := range paths {
			ev := event(api.Added, f.cur[p].res)
			ev.ResourceVersion = f.version // the resource keeps its own
			backlog = append(backlog, ev)
		}
		backlog = append(backlog, api.Event{Type: api.Bookmark, ResourceVersion: f.version})
	case from < f.floor:
		return nil, nil, api.Errorf(api.CodeExpired, "resource version %d is older than the supervisor remembers (%d): list again", from, f.floor)
	case from > f.version:
		return nil, nil, api.Errorf(api.CodeExpired, "resource version %d is newer than the supervisor's (%d), of another run: list again", from, f.version)
	default:
		i := sort.Search(len(f.history), func(i int) bool { return f.history[i].ResourceVersion > from })
		for _, ev := range f.history[i:] {
			if w.covers(ev.Resource.Path) {
				backlog = append(backlog, ev)
			}
		}
	}
	f.watchers[w] = struct{}{}
	return backlog, w, nil
}

// unwatch ends w, unless it was dropped already.
func (f *feed) unwatch(w *watcher) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !w.dropped {
		f.drop(w)
	}
}

// current returns the version of the last change.
func (f *feed) current() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.version
}

// bookmark returns the version of the last change, for a BOOKMARK to w;
// false while w has events queued (or was dropped), which the bookmark
// would claim were sent. Changes are queued under f.mu, so with w's
// queue empty, w's reader has taken every change up to that version.
func (f *feed) bookmark(w *watcher) (uint64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if w.dropped || len(w.ch) > 0 {
		return 0, false
	}
	return f.version, true
}

// tree returns the entries of items, with the collections that hold them
// made up and counted.
func tree(items []Item) map[string]*entry {
	out := make(map[string]*entry, len(items)+8)
	for _, it := range items {
		r := it.Resource
		r.ResourceVersion = 0
		r.Name = api.Base(r.Path)
		key := resourceKey(r)
		if it.Live != nil {
			r.Status = it.Live
		}
		out[r.Path] = &entry{res: r, key: key}
	}
	for _, p := range []string{"/", api.Join(api.Apps)} { // there with no app too
		if out[p] == nil {
			out[p] = &entry{res: api.Resource{Kind: api.KindCollection, Path: p, Name: api.Base(p)}}
		}
	}
	for p := range out {
		for q := api.Parent(p); q != ""; q = api.Parent(q) {
			if out[q] != nil {
				break
			}
			out[q] = &entry{res: api.Resource{Kind: api.KindCollection, Path: q, Name: api.Base(q)}}
		}
	}
	counts := map[string]int{}
	for p := range out {
		if q := api.Parent(p); q != "" {
			counts[q]++
		}
	}
	for p, e := range out {
		if e.res.Kind != api.KindCollection {
			continue
		}
		b, _ := json.Marshal(api.CollectionStatus{Items: counts[p]}) // cannot fail
		e.res.Status = b
		e.key = resourceKey(e.res)
	}
	return out
}

// resourceKey is what a change of r is judged by: its kind, actions and
// status.
func resourceKey(r api.Resource) []byte {
	var b bytes.Buffer
	b.WriteString(string(r.Kind))
	b.WriteByte(0)
	b.WriteString(strings.Join(r.Actions, ","))
	b.WriteByte(0)
	b.Write(r.Status)
	return b.Bytes()
}
