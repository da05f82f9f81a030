package control

import (
	"sync"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
)

// gatedBackend is a sliceBackend whose Snapshot, once armed, blocks
// after taking its items until released: an older snapshot late to be
// applied.
type gatedBackend struct {
	*sliceBackend
	mu      sync.Mutex
	taken   chan struct{} // closed when the armed Snapshot took its items
	release chan struct{} // the armed Snapshot returns once it is closed
}

// arm makes the next Snapshot block until release is closed; taken is
// closed once it took its items.
func (b *gatedBackend) arm() (taken, release chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.taken, b.release = make(chan struct{}), make(chan struct{})
	return b.taken, b.release
}

func (b *gatedBackend) Snapshot() []Item {
	items := b.sliceBackend.Snapshot()
	b.mu.Lock()
	taken, release := b.taken, b.release
	b.taken = nil
	b.mu.Unlock()
	if taken != nil {
		close(taken)
		<-release
	}
	return items
}

// Concurrent syncs apply their snapshots in the order they were taken:
// the state never goes back to an older one.
func TestFeedSyncsInOrder(t *testing.T) {
	b := &gatedBackend{sliceBackend: newSliceBackend()}
	const path = "/apps/shop/units/redis"
	b.set(t, api.KindUnit, path, api.UnitStatus{State: api.Starting})
	f := newFeed(b, time.Now())
	f.sync()

	b.set(t, api.KindUnit, path, api.UnitStatus{State: api.Ready})
	taken, release := b.arm()
	older := make(chan struct{})
	go func() { defer close(older); f.sync() }()
	<-taken
	b.set(t, api.KindUnit, path, api.UnitStatus{State: api.Stopped})
	newer := make(chan struct{})
	go func() { defer close(newer); f.sync() }()
	// Unfixed, the newer sync is applied at once; fixed, it waits for
	// the older one, which is let go after a while.
	select {
	case <-newer:
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	<-older
	<-newer

	res, ok := f.get(path)
	var st api.UnitStatus
	if !ok || res.DecodeStatus(&st) != nil || st.State != api.Stopped {
		t.Errorf("after both syncs, %s is %+v (%v); want state %s", path, st, ok, api.Stopped)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var last uint64
	var states []api.State
	for _, ev := range f.history {
		if ev.ResourceVersion <= last {
			t.Errorf("history not in version order: %d after %d", ev.ResourceVersion, last)
		}
		last = ev.ResourceVersion
		if ev.Resource.Path == path && ev.Type == api.Modified {
			var s api.UnitStatus
			if err := ev.Resource.DecodeStatus(&s); err != nil {
				t.Fatal(err)
			}
			states = append(states, s.State)
		}
	}
	if len(states) != 2 || states[0] != api.Ready || states[1] != api.Stopped {
		t.Errorf("changes of %s: %v; want [%s %s]", path, states, api.Ready, api.Stopped)
	}
}

// A watcher gets no bookmark while a change is queued for it: the
// bookmark's version would claim the change was sent.
func TestFeedBookmarkWaitsForQueue(t *testing.T) {
	b := newSliceBackend()
	const path = "/apps/shop/units/redis"
	b.set(t, api.KindUnit, path, api.UnitStatus{State: api.Starting})
	f := newFeed(b, time.Now())
	_, w, err := f.watch("/", true, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.unwatch(w)
	if _, ok := f.bookmark(w); !ok {
		t.Fatal("no bookmark for a watcher with nothing queued")
	}
	b.set(t, api.KindUnit, path, api.UnitStatus{State: api.Ready})
	f.sync()
	if v, ok := f.bookmark(w); ok {
		t.Errorf("bookmark of version %d with a change queued", v)
	}
	ev := <-w.ch
	v, ok := f.bookmark(w)
	if !ok || v < ev.ResourceVersion {
		t.Errorf("bookmark after the queue emptied: %d, %v; want at least %d", v, ok, ev.ResourceVersion)
	}
	f.unwatch(w)
	if _, ok := f.bookmark(w); ok {
		t.Error("bookmark for a dropped watcher")
	}
}
