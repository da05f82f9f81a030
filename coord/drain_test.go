package coord

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pilotage/pilotage/coord/internal/membackend"
)

// A drained replica resigns what it leads, at once, so the next candidate
// leads; it campaigns no more (its campaign returns only when its context
// ends), a campaign waiting when the drain comes included; its locks stay
// held.
func TestDrain(t *testing.T) {
	mem := membackend.New()
	leaving, staying := open(t, mem, 2*time.Second), open(t, mem, 2*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lead, err := leaving.Election("e").Campaign(ctx, "leaving")
	if err != nil {
		t.Fatal(err)
	}
	lock, err := leaving.Lock(ctx, "l")
	if err != nil {
		t.Fatal(err)
	}
	// "other" is led by the staying replica: the leaving one's campaign waits.
	if _, err := staying.Election("other").Campaign(ctx, "staying"); err != nil {
		t.Fatal(err)
	}
	waiting := make(chan error, 1)
	go func() { // a second campaign of the leaving replica, queued
		_, err := leaving.Election("other").Campaign(ctx, "leaving")
		waiting <- err
	}()
	next := make(chan *Leadership, 1)
	go func() {
		l, err := staying.Election("e").Campaign(ctx, "staying")
		if err != nil {
			t.Error(err)
		}
		next <- l
	}()

	begin := time.Now()
	leaving.drain()
	var l *Leadership
	select {
	case l = <-next:
	case <-ctx.Done():
		t.Fatal("the next candidate does not lead after the drain")
	}
	t.Logf("the next candidate leads %s after the drain", time.Since(begin).Round(time.Microsecond))
	if lead.Context().Err() == nil || l.Token() <= lead.Token() {
		t.Errorf("drained leadership's context %v; next token %d after %d", lead.Context().Err(), l.Token(), lead.Token())
	}
	if lock.Context().Err() != nil {
		t.Errorf("the drain released a lock: %v", context.Cause(lock.Context()))
	}

	short, stop := context.WithTimeout(ctx, 200*time.Millisecond)
	defer stop()
	if _, err := leaving.Election("e").Campaign(short, "again"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a campaign after the drain: %v, want its context's deadline", err)
	}
	select {
	case err := <-waiting:
		t.Errorf("the queued campaign returned %v while its context runs", err)
	case <-time.After(100 * time.Millisecond):
	}
	cancel()
	if err := <-waiting; !errors.Is(err, context.Canceled) {
		t.Errorf("the queued campaign: %v, want its context's end", err)
	}
}
