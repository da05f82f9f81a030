package supervisor

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/coordview"
	"github.com/pilotage/pilotage/coord"
)

// Pacing of the coordination view; variables for tests.
var (
	// coordCoalesce is the least time between two reads of the store
	// after changes: a burst of writes costs one read per interval, not
	// one per write.
	coordCoalesce = 50 * time.Millisecond
	// coordExpiryRefresh is how often the store is read while locks are
	// held, for their expiries (which no write announces).
	coordExpiryRefresh = time.Second
	// coordRetry is how long a failed read or watch waits to try again.
	coordRetry = time.Second
)

// coordReadTimeout bounds one read of the store.
const coordReadTimeout = 5 * time.Second

// A coordView shows the locks, leaders and config keys of the app's
// coordination store in the control API's tree. It reads them with the
// supervisor's client, again after every change the store reports
// (coalesced), and serves the last read to
// snapshots, which never wait for the store.
type coordView struct {
	store  *coord.Store
	app    string
	notify func() // the supervisor's notifyChange
	logf   func(format string, args ...any)

	kick   chan struct{} // a read is wanted; coalesces
	cancel context.CancelFunc
	wg     sync.WaitGroup
	reads  atomic.Int64 // reads of the store so far

	// readMu serializes reads, so that the view kept is the last read.
	readMu sync.Mutex

	mu      sync.Mutex
	items   []control.Item // of the last read
	held    int            // locks held at the last read
	failing bool           // the last read failed (and said so)
}

// watchCoordination starts the view of c, or returns nil if the
// supervisor has no client of it. s.mu may be held: it only starts the
// view's goroutines.
func (s *Supervisor) watchCoordination(c *coordination) *coordView {
	if c.client == nil {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	v := &coordView{store: c.client, app: s.plan.App, notify: s.notifyChange, logf: s.out.logf,
		kick: make(chan struct{}, 1), cancel: cancel}
	v.wg.Add(1)
	go v.run(ctx)
	return v
}

// close stops the view; v may be nil.
func (v *coordView) close() {
	if v == nil {
		return
	}
	v.cancel()
	v.wg.Wait()
}

// run reads the store, watches it, and reads it again after changes, at
// most every coordCoalesce, until ctx ends.
func (v *coordView) run(ctx context.Context) {
	defer v.wg.Done()
	from := int64(0) // from now on, if the read failed
	if rev, err := v.refresh(ctx); err == nil {
		from = rev + 1
	}
	v.wg.Add(1)
	go v.watch(ctx, from)
	for {
		v.mu.Lock()
		wait := time.Duration(0) // none
		switch {
		case v.failing:
			wait = coordRetry
		case v.held > 0:
			wait = coordExpiryRefresh
		}
		v.mu.Unlock()
		var timer <-chan time.Time
		var t *time.Timer
		if wait > 0 {
			t = time.NewTimer(wait)
			timer = t.C
		}
		select {
		case <-ctx.Done():
		case <-v.kick:
		case <-timer:
		}
		if t != nil {
			t.Stop()
		}
		if ctx.Err() != nil {
			return
		}
		v.refresh(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(coordCoalesce):
		}
	}
}

// wake asks run for a read; it never blocks.
func (v *coordView) wake() {
	select {
	case v.kick <- struct{}{}:
	default:
	}
}

// watch wakes run at every change of the store from revision from on,
// until ctx ends. A watch that fails (compacted, store gone) starts again
// from the present after a read, which covers what it missed.
func (v *coordView) watch(ctx context.Context, from int64) {
	defer v.wg.Done()
	for ctx.Err() == nil {
		for _, err := range v.store.Changes(ctx, from) {
			if err != nil {
				break
			}
			v.wake()
		}
		from = 0
		if ctx.Err() != nil {
			return
		}
		v.wake()
		select {
		case <-ctx.Done():
		case <-time.After(coordRetry):
		}
	}
}

// refresh reads the store and keeps what it read, and returns the
// store's revision before the read: a watch from the next one misses no
// change the read did not see.
func (v *coordView) refresh(ctx context.Context) (int64, error) {
	v.readMu.Lock()
	defer v.readMu.Unlock()
	v.reads.Add(1)
	rctx, cancel := context.WithTimeout(ctx, coordReadTimeout)
	defer cancel()
	rev, items, held, err := v.read(rctx)
	if err != nil && ctx.Err() != nil {
		return 0, err // stopping, or the request that asked went away
	}
	v.mu.Lock()
	was := v.failing
	v.failing = err != nil
	if err == nil {
		v.items, v.held = items, held
	}
	v.mu.Unlock()
	switch {
	case err != nil && !was:
		v.logf("coordination store: reading its locks, leaders and config keys: %v (the control API shows the last read until it succeeds)", err)
	case err == nil && was:
		v.logf("coordination store: reading its locks, leaders and config keys again")
	}
	if err == nil {
		v.notify()
	}
	return rev, err
}

// read reads the locks, elections and config keys of the store
// (package coordview), and returns them as resources.
func (v *coordView) read(ctx context.Context) (rev int64, items []control.Item, held int, err error) {
	st, err := coordview.Read(ctx, v.store)
	if err != nil {
		return 0, nil, 0, err
	}
	b := &treeBuilder{}
	for _, live := range st.Locks {
		key := live
		key.Expires = time.Time{} // renewals are not changes
		b.add(api.KindLock, key, live, []string{api.Apps, v.app, api.Locks, live.Name}, api.ActionRelease)
		if live.Holder != "" {
			held++
		}
	}
	for _, l := range st.Leaders {
		b.add(api.KindLeader, l, nil, []string{api.Apps, v.app, api.Leaders, l.Election})
	}
	for _, k := range st.Keys {
		b.add(api.KindConfigKey, k, nil, []string{api.Apps, v.app, api.Config, k.Key})
	}
	return st.Revision, b.items, held, b.err
}

// typedKeys returns the config keys with a registered type.
func (v *coordView) typedKeys(ctx context.Context) (map[string]bool, error) {
	keys, err := v.store.TypedKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(keys))
	for _, k := range keys {
		out[k] = true
	}
	return out, nil
}

// isTyped reports whether key has a registered type.
func (v *coordView) isTyped(ctx context.Context, key string) (bool, error) {
	typed, err := v.typedKeys(ctx)
	return typed[key], err
}

// coordItems returns the coordination store's collections and what the
// view of it last read (nothing before the store is ready). s.mu is held.
func (s *Supervisor) coordItems() []control.Item {
	b := &treeBuilder{}
	for _, c := range []string{api.Locks, api.Leaders, api.Config} {
		b.add(api.KindCollection, nil, nil, []string{api.Apps, s.plan.App, c})
	}
	if v := s.coord.viewOf(); v != nil {
		v.mu.Lock()
		b.items = append(b.items, v.items...)
		v.mu.Unlock()
	}
	return b.items
}

// viewOf returns the view of c; c may be nil.
func (c *coordination) viewOf() *coordView {
	if c == nil {
		return nil
	}
	return c.view.Load()
}

// coordPath returns the path elements of path if it is that of a
// resource of the coordination store (/apps/<app>/{locks,leaders,config}/...).
func coordPath(path string) ([]string, bool) {
	elems, err := api.Split(path)
	if err != nil || len(elems) < 3 || elems[0] != api.Apps {
		return nil, false
	}
	switch elems[2] {
	case api.Locks, api.Leaders, api.Config:
		return elems, true
	}
	return nil, false
}

// view returns the view of the coordination store, or why there is none.
func (s *Supervisor) view() (*coordView, error) {
	s.mu.Lock()
	c := s.coord
	s.mu.Unlock()
	switch v := c.viewOf(); {
	case c == nil:
		return nil, api.Errorf(api.CodeUnavailable, "the coordination store of %s is not ready yet", s.plan.App)
	case v == nil:
		return nil, api.Errorf(api.CodeUnavailable, "the supervisor of %s could not connect to its coordination store (see its log)", s.plan.App)
	default:
		return v, nil
	}
}

// coordError gives err, of the coord package, the code of the answer.
func coordError(err error) error {
	code := api.CodeInternal
	switch {
	case errors.Is(err, coord.ErrInvalid):
		code = api.CodeBadRequest
	case errors.Is(err, coord.ErrNotFound):
		code = api.CodeNotFound
	case errors.Is(err, coord.ErrConflict):
		code = api.CodeConflict
	case errors.Is(err, coord.ErrUnavailable), errors.Is(err, coord.ErrClosed),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		code = api.CodeUnavailable
	}
	return api.Wrap(code, err.Error(), err)
}
