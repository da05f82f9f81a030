package control

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
)

// sliceBackend is a minimal Backend for the tests of this package's
// internals: its snapshot is items, set by the test.
type sliceBackend struct {
	mu    sync.Mutex
	items []Item
	ch    chan struct{}
}

func newSliceBackend() *sliceBackend { return &sliceBackend{ch: make(chan struct{}, 1)} }

func (b *sliceBackend) set(t *testing.T, kind api.Kind, path string, status any) {
	t.Helper()
	r, err := api.NewResource(kind, path, status)
	if err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range b.items {
		if b.items[i].Resource.Path == path {
			b.items[i].Resource = r
			return
		}
	}
	b.items = append(b.items, Item{Resource: r})
}

func (b *sliceBackend) Snapshot() []Item {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Item(nil), b.items...)
}

func (b *sliceBackend) Changed() <-chan struct{} { return b.ch }

func (b *sliceBackend) Act(_ context.Context, path, action string) (*api.ActionResult, error) {
	return &api.ActionResult{Path: path, Action: action, Settled: true}, nil
}

func (b *sliceBackend) Logs(context.Context, string, LogQuery, func(api.LogLine) error) error {
	return nil
}

func tempDir(t *testing.T) string {
	// Not t.TempDir: a Unix socket path must be short.
	dir, err := os.MkdirTemp("", "pc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
