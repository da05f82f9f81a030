package worker

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/pilotage/pilotage/coord"
	"github.com/pilotage/pilotage/examples/wordcount/job"
	"github.com/pilotage/pilotage/pilotagetest"
)

// A worker whose task lock is taken from it in the middle of the task (as
// an operator's forced release, or the lease of a paused process running
// out, would) stops and records nothing; the next run of the task does.
func TestLostLockRecordsNothing(t *testing.T) {
	pilotagetest.Local.Test(t, func(t *testing.T, w Worker) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		store, err := coord.Open(ctx) // the same in-memory store as the worker's
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		// A fresh ID: the in-memory store lives as long as the process.
		spec := job.Spec{ID: fmt.Sprintf("stolen-%d", time.Now().UnixNano()), Files: 1, WordsPerFile: 100, Seed: 3, TaskDelay: 5 * time.Second}
		lock := job.TaskLock(spec.ID, 0)

		done := make(chan error, 1)
		go func() { done <- w.Map(ctx, spec, 0) }()
		for {
			if held, err := store.ForceUnlock(ctx, lock); err != nil {
				t.Fatal(err)
			} else if held {
				break
			}
			select { // the worker has not taken it yet
			case err := <-done:
				t.Fatalf("Map returned %v before its lock was taken", err)
			case <-time.After(5 * time.Millisecond):
			}
		}
		select {
		case err := <-done:
			if !errors.Is(err, coord.ErrNotHeld) {
				t.Errorf("Map after its lock was taken = %v; want coord.ErrNotHeld", err)
			}
		case <-ctx.Done():
			t.Fatal("Map went on after its lock was taken")
		}
		if _, err := store.Get(ctx, job.TaskKey(spec.ID, 0)); !errors.Is(err, coord.ErrNotFound) {
			t.Errorf("task result after a lost lock: %v; want none", err)
		}

		spec.TaskDelay = 0
		if err := w.Map(ctx, spec, 0); err != nil {
			t.Fatal(err)
		}
		e, err := store.Get(ctx, job.TaskKey(spec.ID, 0))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := e.Value, job.Count(spec.File(0)).Encode(); string(got) != string(want) {
			t.Errorf("task result %q; want %q", got, want)
		}
	})
}
