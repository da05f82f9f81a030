// Command wordcount is a distributed word count (MapReduce) that gives the
// exact result whichever of its processes is killed, and whenever:
//
//	main (submits the job, waits, prints the result)
//	└── coordinator.Coordinator  (2 replicas; the elected leader runs jobs)
//	    └── worker.Worker        (3 replicas; each task runs under a lock)
//
// Run it in one process with "go run .", or as processes with "pilotage
// run". See README.md for the protocol.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/pilotage/pilotage"
	"github.com/pilotage/pilotage/coord"
	"github.com/pilotage/pilotage/examples/wordcount/coordinator"
	"github.com/pilotage/pilotage/examples/wordcount/job"
)

func main() {
	if err := pilotage.Run(context.Background(), run); err != nil {
		fmt.Fprintln(os.Stderr, "wordcount:", err)
		os.Exit(1)
	}
}

// config is the job to run, from [components."pilotage.Main"].
type config struct {
	Job          string        `toml:"job"`
	Files        int           `toml:"files"`
	WordsPerFile int           `toml:"words_per_file"`
	Seed         uint64        `toml:"seed"`
	TaskDelay    time.Duration `toml:"task_delay"`
}

// app is the main component.
type app struct {
	pilotage.Implements[pilotage.Main]
	pilotage.WithConfig[config]
	coordinator pilotage.Ref[coordinator.Coordinator]
}

func run(ctx context.Context, a *app) error {
	res, err := a.count(ctx)
	if err != nil {
		return err
	}
	fmt.Println("result:", res)
	return nil
}

// spec returns the job the configuration describes.
func (a *app) spec() job.Spec {
	c := a.Config()
	s := job.Spec{ID: c.Job, Files: c.Files, WordsPerFile: c.WordsPerFile, Seed: c.Seed, TaskDelay: c.TaskDelay}
	if s.ID == "" {
		s.ID = "default"
	}
	if s.Files == 0 {
		s.Files = 24
	}
	if s.WordsPerFile == 0 {
		s.WordsPerFile = 5000
	}
	return s
}

// count submits the job and waits for its result. A restarted main submits
// the same job again, which does nothing, and waits on: the job's progress
// is in the store, not here.
func (a *app) count(ctx context.Context) (job.Result, error) {
	spec := a.spec()
	logger := a.Logger(ctx).With("job", spec.ID)
	logger.Info("submitting", "files", spec.Files, "words_per_file", spec.WordsPerFile, "task_delay", spec.TaskDelay)
	for {
		err := a.coordinator.Get().Submit(ctx, spec)
		if err == nil {
			var res job.Result
			if res, err = a.coordinator.Get().Result(ctx, spec.ID); err == nil {
				return res, nil
			}
		}
		if !transient(err) || ctx.Err() != nil {
			return job.Result{}, err
		}
		logger.Info("retrying", "err", err)
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return job.Result{}, ctx.Err()
		}
	}
}

// transient reports an error that a replica going away explains.
func transient(err error) bool {
	return errors.Is(err, pilotage.ErrUnavailable) || errors.Is(err, pilotage.ErrInterrupted) ||
		errors.Is(err, coord.ErrUnavailable) || errors.Is(err, coord.ErrClosed)
}
