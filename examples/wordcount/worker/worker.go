// Package worker is the word count's map side: a Worker counts the words of
// one file of a job and records the counts in the store, exactly once.
package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pilotage/pilotage"
	"github.com/pilotage/pilotage/coord"
	"github.com/pilotage/pilotage/examples/wordcount/job"
)

// A Worker runs tasks. Any replica may run any task, and two calls may run
// the same task at once (a retry, or two coordinators one after the other):
// the task's lock and its write-once result make that harmless.
type Worker interface {
	// Map counts the words of file task of spec and records them under
	// job.TaskKey. It returns nil once they are recorded, by this call or
	// an earlier one.
	Map(ctx context.Context, spec job.Spec, task int) error
}

// Map may run twice: the second run finds the result and does nothing.
var _ pilotage.Idempotent = Worker.Map

type worker struct {
	pilotage.Implements[Worker]
	store *coord.Store
}

func (w *worker) Init(ctx context.Context) error {
	var err error
	w.store, err = coord.Open(ctx)
	return err
}

func (w *worker) Shutdown(context.Context) error { return w.store.Close() }

func (w *worker) Map(ctx context.Context, spec job.Spec, task int) error {
	if task < 0 || task >= spec.Files {
		return fmt.Errorf("job %s: no task %d", spec.ID, task)
	}
	key := job.TaskKey(spec.ID, task)
	// Under the lock, nobody else runs the task; a holder that dies
	// releases it (the deployer revokes its session), and one that stalls
	// past its lease loses it: its ctx is cancelled and its write below
	// is fenced out.
	return w.store.Do(ctx, job.TaskLock(spec.ID, task), func(ctx context.Context, l *coord.Lock) error {
		if _, err := w.store.Get(ctx, key); err == nil {
			return nil // an earlier holder finished it
		} else if !errors.Is(err, coord.ErrNotFound) {
			return fmt.Errorf("task %d: %w", task, err)
		}
		select {
		case <-time.After(spec.TaskDelay): // the work is too quick to watch
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		counts := job.Count(spec.File(task))
		// Written once (revision 0: the key must not exist) and only while
		// the lock is held: a stale holder changes nothing.
		if _, err := w.store.CompareAndSwap(ctx, key, counts.Encode(), 0, coord.FencedBy(l)); err != nil {
			return fmt.Errorf("task %d: record result: %w", task, err)
		}
		w.Logger(ctx).Info("task done", "job", spec.ID, "task", task, "token", l.Token())
		return nil
	})
}
