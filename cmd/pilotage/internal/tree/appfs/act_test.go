package appfs

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

func TestActAndWatch(t *testing.T) {
	a := shared(t)
	f := newFS(t, a.root)
	const dir = "/apps/shop/components/b.B/replicas"
	before := mustStat(t, f, dir+"/0")

	var mu sync.Mutex
	var events []tree.Event
	ctx, cancel := context.WithCancel(context.Background())
	watched := make(chan error, 1)
	go func() {
		watched <- f.Watch(ctx, dir, func(ev tree.Event) {
			mu.Lock()
			events = append(events, ev)
			mu.Unlock()
		})
	}()
	time.Sleep(200 * time.Millisecond) // the watch has listed

	msg, err := f.Act(testContext(t), dir+"/0", api.ActionRestart)
	if err != nil || !strings.Contains(msg, "replica b.B/0") {
		t.Fatalf("restart = %q, %v", msg, err)
	}
	// The cache follows: a new pid, ready again.
	eventually(t, "the restarted replica in the cache", func() bool {
		n, err := f.Stat(testContext(t), dir+"/0")
		return err == nil && n.State == "Ready" && n.Info != before.Info
	})
	eventually(t, "a MODIFIED event of replica 0", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, ev := range events {
			if ev.Type == tree.Modified && ev.Node.Name == "0" && ev.Node.Path == dir+"/0" {
				return true
			}
		}
		return false
	})
	cancel()
	if err := <-watched; err != nil {
		t.Errorf("Watch ended with %v", err)
	}
	if _, err := f.Act(testContext(t), dir+"/0", api.ActionStop); !errors.Is(err, tree.ErrNotSupported) {
		t.Errorf("stop of a replica = %v, want ErrNotSupported", err)
	}
}

func TestLocks(t *testing.T) {
	a := shared(t)
	f := newFS(t, a.root)
	s := storeOf(t, a)
	l, err := s.Lock(testContext(t), "jobs")
	if err != nil {
		t.Fatal(err)
	}
	const p = "/apps/shop/locks/jobs"
	eventually(t, "the lock in the tree", func() bool {
		n, err := f.Stat(testContext(t), p)
		return err == nil && strings.HasPrefix(n.Info, "test pid ")
	})
	var st api.LockStatus
	decode(t, mustRead(t, f, p, tree.ReadOptions{}).Value, &st)
	if st.Token != l.Token() {
		t.Errorf("cat %s: %+v, want token %d", p, st, l.Token())
	}
	msg, err := f.Act(testContext(t), p, api.ActionRelease)
	if err != nil || !strings.Contains(msg, "released from test pid") {
		t.Errorf("release = %q, %v", msg, err)
	}
	select {
	case <-l.Context().Done():
	case <-time.After(10 * time.Second):
		t.Error("the released lock's context did not end")
	}
}
