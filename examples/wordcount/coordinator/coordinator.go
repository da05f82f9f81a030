// Package coordinator is the word count's control side. Every replica
// campaigns in one election; the leader runs the jobs it finds in the
// store: it writes each job's plan, hands its tasks out to workers until
// every task has a result, and merges the results into the job's result.
// Every write of the leader is fenced by its leadership, and everything it
// knows is in the store, so a new leader carries on where the last one
// stopped.
package coordinator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/pilotage/pilotage"
	"github.com/pilotage/pilotage/coord"
	"github.com/pilotage/pilotage/examples/wordcount/job"
	"github.com/pilotage/pilotage/examples/wordcount/worker"
)

// ElectionName is the election the coordinators campaign in.
const ElectionName = "wordcount-coordinator"

// A Coordinator takes jobs and reports their results. Any replica answers;
// only the leader runs jobs.
type Coordinator interface {
	// Submit records spec as a job to run. Submitting it again does
	// nothing; another spec under the same ID fails with
	// job.ErrSpecMismatch.
	Submit(ctx context.Context, spec job.Spec) error
	// Result waits until the job id is done and returns its result.
	Result(ctx context.Context, id string) (job.Result, error)
}

var (
	_ pilotage.Idempotent = Coordinator.Submit
	_ pilotage.Idempotent = Coordinator.Result
)

type config struct {
	// Parallel is how many tasks the leader has in flight (default 6).
	Parallel int `toml:"parallel"`
}

type coordinator struct {
	pilotage.Implements[Coordinator]
	pilotage.WithConfig[config]
	workers pilotage.Ref[worker.Worker]

	store *coord.Store
	stop  context.CancelFunc
	done  chan struct{}
}

func (c *coordinator) Init(ctx context.Context) error {
	var err error
	if c.store, err = coord.Open(ctx); err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(context.Background())
	c.stop, c.done = stop, make(chan struct{})
	go c.campaign(runCtx)
	return nil
}

func (c *coordinator) Shutdown(ctx context.Context) error {
	c.stop()
	select {
	case <-c.done:
	case <-ctx.Done():
	}
	return c.store.Close() // resigns, if still leading
}

func (c *coordinator) Submit(ctx context.Context, spec job.Spec) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	data, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	key := job.SpecKey(spec.ID)
	_, err = c.store.CompareAndSwap(ctx, key, data, 0)
	if !errors.Is(err, coord.ErrConflict) {
		return err
	}
	e, err := c.store.Get(ctx, key)
	if err != nil {
		return err
	}
	if !bytes.Equal(e.Value, data) {
		return fmt.Errorf("%w: %s is %s", job.ErrSpecMismatch, spec.ID, e.Value)
	}
	return nil
}

func (c *coordinator) Result(ctx context.Context, id string) (job.Result, error) {
	key := job.ResultKey(id)
	entries, rev, err := c.store.List(ctx, key)
	if err != nil {
		return job.Result{}, err
	}
	for _, e := range entries {
		if e.Key == key {
			return summarize(e.Value)
		}
	}
	for ev, err := range c.store.Watch(ctx, key, rev+1) {
		if err != nil {
			return job.Result{}, err
		}
		if ev.Type == coord.Put && ev.Key == key {
			return summarize(ev.Value)
		}
	}
	return job.Result{}, context.Cause(ctx)
}

func summarize(data []byte) (job.Result, error) {
	counts, err := job.Decode(data)
	if err != nil {
		return job.Result{}, err
	}
	return counts.Result(), nil
}

// campaign leads whenever this replica wins the election, until ctx ends.
func (c *coordinator) campaign(ctx context.Context) {
	defer close(c.done)
	logger := c.Logger(ctx)
	election := c.store.Election(ElectionName)
	for ctx.Err() == nil {
		lead, err := election.Campaign(ctx, strconv.Itoa(os.Getpid()))
		if err != nil {
			if ctx.Err() == nil {
				logger.Error("campaign", "err", err)
				pause(ctx, 100*time.Millisecond)
			}
			continue
		}
		logger.Info("leading", "pid", os.Getpid(), "token", lead.Token())
		err = c.lead(ctx, lead)
		logger.Info("no longer leading", "token", lead.Token(), "why", err)
		resignCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		if err := lead.Resign(resignCtx); err != nil && !errors.Is(err, coord.ErrNotHeld) {
			logger.Error("resign", "err", err)
		}
		cancel()
	}
}

// lead runs every unfinished job, and then each new one, until the
// leadership is lost (its context is cancelled), ctx ends (the replica
// shuts down) or the store fails.
func (c *coordinator) lead(ctx context.Context, lead *coord.Leadership) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(lead.Context(), func() { cancel(context.Cause(lead.Context())) })
	defer stop()
	for {
		entries, rev, err := c.store.List(ctx, job.JobsPrefix)
		if err != nil {
			return err
		}
		for _, spec := range unfinished(entries) {
			if err := c.run(ctx, lead, spec); err != nil {
				return fmt.Errorf("job %s: %w", spec.ID, err)
			}
		}
		// Wait for any change under the prefix (a new job), then look again.
		for _, err := range c.store.Watch(ctx, job.JobsPrefix, rev+1) {
			if err != nil {
				return err
			}
			break
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
	}
}

// unfinished returns the specs of the jobs without a result.
func unfinished(entries []coord.Entry) []job.Spec {
	specs := map[string][]byte{}
	done := map[string]bool{}
	var order []string
	for _, e := range entries {
		id, rest, _ := job.ParseKey(e.Key)
		switch rest {
		case "spec":
			specs[id] = e.Value
			order = append(order, id)
		case "result":
			done[id] = true
		}
	}
	var out []job.Spec
	for _, id := range order {
		var s job.Spec
		if done[id] || json.Unmarshal(specs[id], &s) != nil || s.Validate() != nil {
			continue // Submit writes only valid specs
		}
		out = append(out, s)
	}
	return out
}

// run brings one job to its result.
func (c *coordinator) run(ctx context.Context, lead *coord.Leadership, spec job.Spec) error {
	plan, err := c.plan(ctx, lead, spec)
	if err != nil {
		return err
	}
	logger := c.Logger(ctx).With("job", spec.ID)
	for {
		done, err := c.finished(ctx, spec.ID)
		if err != nil {
			return err
		}
		var pending []int
		for i := range plan.Files {
			if !done[i] {
				pending = append(pending, i)
			}
		}
		logger.Info("progress", "done", len(done), "tasks", len(plan.Files))
		if len(pending) == 0 {
			break
		}
		if failed := c.dispatch(ctx, spec, pending); failed > 0 {
			pause(ctx, 100*time.Millisecond) // the workers are restarting
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
	}
	return c.reduce(ctx, lead, spec, len(plan.Files))
}

// plan returns the job's plan, writing it first if no leader did.
func (c *coordinator) plan(ctx context.Context, lead *coord.Leadership, spec job.Spec) (job.Plan, error) {
	var plan job.Plan
	e, err := c.store.Get(ctx, job.PlanKey(spec.ID))
	switch {
	case err == nil:
		err = json.Unmarshal(e.Value, &plan)
		return plan, err
	case !errors.Is(err, coord.ErrNotFound):
		return plan, err
	}
	plan = job.NewPlan(spec)
	data, err := json.Marshal(plan)
	if err != nil {
		return plan, err
	}
	if _, err := c.store.CompareAndSwap(ctx, job.PlanKey(spec.ID), data, 0, coord.FencedBy(lead)); err != nil {
		return plan, fmt.Errorf("write plan: %w", err)
	}
	c.Logger(ctx).Info("planned", "job", spec.ID, "tasks", len(plan.Files))
	return plan, nil
}

// finished returns the tasks of job id that have a result.
func (c *coordinator) finished(ctx context.Context, id string) (map[int]bool, error) {
	entries, _, err := c.store.List(ctx, job.TasksPrefix(id))
	if err != nil {
		return nil, err
	}
	done := map[int]bool{}
	for _, e := range entries {
		i, err := strconv.Atoi(e.Key[len(job.TasksPrefix(id)):])
		if err != nil {
			return nil, fmt.Errorf("stray key %s", e.Key)
		}
		done[i] = true
	}
	return done, nil
}

// dispatch runs the pending tasks on the workers, Parallel at a time, and
// returns how many failed (they are pending still, for the next round).
func (c *coordinator) dispatch(ctx context.Context, spec job.Spec, pending []int) (failed int) {
	parallel := c.Config().Parallel
	if parallel <= 0 {
		parallel = 6
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	slots := make(chan struct{}, parallel)
	for _, task := range pending {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return failed
		}
		wg.Go(func() {
			defer func() { <-slots }()
			if err := c.workers.Get().Map(ctx, spec, task); err != nil {
				if ctx.Err() == nil {
					c.Logger(ctx).Info("task failed, will retry", "job", spec.ID, "task", task, "err", err)
				}
				mu.Lock()
				failed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return failed
}

// reduce merges the tasks' results into the job's result.
func (c *coordinator) reduce(ctx context.Context, lead *coord.Leadership, spec job.Spec, tasks int) error {
	entries, _, err := c.store.List(ctx, job.TasksPrefix(spec.ID))
	if err != nil {
		return err
	}
	if len(entries) != tasks {
		return fmt.Errorf("reduce: %d task results, want %d", len(entries), tasks)
	}
	total := job.Counts{}
	for _, e := range entries {
		counts, err := job.Decode(e.Value)
		if err != nil {
			return fmt.Errorf("%s: %w", e.Key, err)
		}
		total.Add(counts)
	}
	_, err = c.store.CompareAndSwap(ctx, job.ResultKey(spec.ID), total.Encode(), 0, coord.FencedBy(lead))
	if errors.Is(err, coord.ErrConflict) {
		return nil // a leader before us wrote it: the same bytes
	}
	if err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	c.Logger(ctx).Info("job done", "job", spec.ID, "result", total.Result().String())
	return nil
}

// pause waits for d or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
