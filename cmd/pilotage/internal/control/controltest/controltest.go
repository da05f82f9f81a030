// Package controltest provides a fake control.Backend for tests of the
// control API and of its clients: a tree of resources the test sets, and
// actions and logs the test decides.
package controltest

import (
	"context"
	"sync"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
)

// A Backend is a control.Backend whose tree is what its Set calls made.
// Its methods may be called concurrently.
type Backend struct {
	// ActFunc answers Act; nil answers every action settled, in state
	// Ready. It is set before the backend is served.
	ActFunc func(ctx context.Context, path, action string) (*api.ActionResult, error)
	// LogLines are what Logs emits, whatever the query, then (when
	// following) a CaughtUp line, then nothing until the request ends.
	LogLines []api.LogLine

	mu      sync.Mutex
	items   map[string]control.Item
	acted   []string
	changed chan struct{}
}

// New returns a Backend with an empty tree.
func New() *Backend {
	return &Backend{items: map[string]control.Item{}, changed: make(chan struct{}, 1)}
}

// Set adds or replaces the resource of kind at path (clean), with status
// and actions, and notifies the change.
func (b *Backend) Set(kind api.Kind, path string, status any, actions ...string) error {
	r, err := api.NewResource(kind, path, status, actions...)
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.items[path] = control.Item{Resource: r}
	b.mu.Unlock()
	b.notify()
	return nil
}

// Delete removes the resource at path and notifies the change.
func (b *Backend) Delete(path string) {
	b.mu.Lock()
	delete(b.items, path)
	b.mu.Unlock()
	b.notify()
}

func (b *Backend) notify() {
	select {
	case b.changed <- struct{}{}:
	default:
	}
}

// Acted returns the actions performed so far, as "action path".
func (b *Backend) Acted() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.acted...)
}

// Snapshot implements control.Backend.
func (b *Backend) Snapshot() []control.Item {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]control.Item, 0, len(b.items))
	for _, it := range b.items {
		out = append(out, it)
	}
	return out
}

// Changed implements control.Backend.
func (b *Backend) Changed() <-chan struct{} { return b.changed }

// Act implements control.Backend.
func (b *Backend) Act(ctx context.Context, path, action string) (*api.ActionResult, error) {
	b.mu.Lock()
	b.acted = append(b.acted, action+" "+path)
	b.mu.Unlock()
	if b.ActFunc != nil {
		return b.ActFunc(ctx, path, action)
	}
	return &api.ActionResult{Path: path, Action: action, Group: api.Base(path), State: api.Ready, Settled: true, Message: api.Base(path) + ": ready"}, nil
}

// Logs implements control.Backend.
func (b *Backend) Logs(ctx context.Context, _ string, q control.LogQuery, emit func(api.LogLine) error) error {
	for _, l := range b.LogLines {
		if err := emit(l); err != nil {
			return err
		}
	}
	if !q.Follow {
		return nil
	}
	if err := emit(api.LogLine{CaughtUp: true}); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}
