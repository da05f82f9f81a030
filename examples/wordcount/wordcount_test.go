package main

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/pilotage/pilotage/examples/wordcount/coordinator"
	"github.com/pilotage/pilotage/examples/wordcount/job"
	"github.com/pilotage/pilotage/pilotagetest"
)

// jobConfig is a pilotage.toml for a small job named id.
func jobConfig(id string) string {
	return fmt.Sprintf(`
[components."pilotage.Main"]
job = %q
files = 16
words_per_file = 3000
seed = 7
task_delay = "5ms"

[components."coordinator.Coordinator"]
parallel = 4
`, id)
}

// The whole job in one process, on the in-memory store, gives exactly
// what one loop over the corpus counts; asked again, it answers from the
// store without running anything.
func TestCountMatchesSequential(t *testing.T) {
	for _, r := range pilotagetest.AllRunners() {
		r.Config = jobConfig("sequential-" + r.Name) // the store outlives a subtest
		r.Test(t, func(t *testing.T, a *app) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			want := job.Sequential(a.spec()).Result()
			if want.Distinct < 100 || want.Total != 16*3000 {
				t.Fatalf("sequential count %v: the corpus is not what the test expects", want)
			}
			for range 2 {
				got, err := a.count(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("distributed count %v; sequential %v", got, want)
				}
			}
		})
	}
}

// A job ID names one job: the same ID with another spec is refused.
func TestSpecMismatch(t *testing.T) {
	r := pilotagetest.Local
	r.Config = jobConfig("mismatch")
	r.Test(t, func(t *testing.T, a *app, c coordinator.Coordinator) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		spec := a.spec()
		if err := c.Submit(ctx, spec); err != nil {
			t.Fatal(err)
		}
		spec.Seed++
		if err := c.Submit(ctx, spec); !errors.Is(err, job.ErrSpecMismatch) {
			t.Errorf("Submit(same ID, another seed) = %v; want job.ErrSpecMismatch", err)
		}
	})
}
