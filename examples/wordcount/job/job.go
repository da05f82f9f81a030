// Package job defines a word-count job: its spec, the corpus it counts
// (generated from a seed, so that nothing ships on disk), the counting
// itself, and the keys under which its progress lives in the coordination
// store.
package job

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrSpecMismatch is the error of submitting a job under an ID already
// taken by a job of another spec.
var ErrSpecMismatch = errors.New("wordcount: job exists with another spec")

// A Spec describes a job: count the words of Files generated files.
type Spec struct {
	ID           string        // names the job in the store; a new ID runs it afresh
	Files        int           // how many files, one task each
	WordsPerFile int           // words in each file
	Seed         uint64        // file i is generated from Seed+i
	TaskDelay    time.Duration // added to each task, to watch the job run (and break it)
}

// Validate reports a spec that cannot run.
func (s Spec) Validate() error {
	switch {
	case s.ID == "" || strings.ContainsAny(s.ID, "/: "):
		return fmt.Errorf("job id %q: want a non-empty name without '/', ':' or spaces", s.ID)
	case s.Files <= 0 || s.WordsPerFile <= 0:
		return fmt.Errorf("job %s: %d files of %d words: want at least one of each", s.ID, s.Files, s.WordsPerFile)
	case s.TaskDelay < 0:
		return fmt.Errorf("job %s: negative task delay %v", s.ID, s.TaskDelay)
	}
	return nil
}

// A Plan is the list of tasks of a job, written once by the coordinator
// that leads when the job starts: task i counts Files[i].
type Plan struct {
	Files []string
}

// NewPlan returns the plan of s: one task per file.
func NewPlan(s Spec) Plan {
	p := Plan{Files: make([]string, s.Files)}
	for i := range p.Files {
		p.Files[i] = fmt.Sprintf("file-%04d", i)
	}
	return p
}

// A Result summarizes a job's output.
type Result struct {
	Distinct int    // distinct words
	Total    int64  // words counted
	SHA256   string // hex digest of the output (Counts.Encode)
}

func (r Result) String() string {
	return fmt.Sprintf("%d distinct, %d total, sha256 %s", r.Distinct, r.Total, r.SHA256)
}

// Keys and lock names of the store. Every job lives under JobsPrefix.
const JobsPrefix = "wordcount/jobs/"

// SpecKey holds the job's Spec (JSON), written by whoever submits it.
func SpecKey(id string) string { return JobsPrefix + id + "/spec" }

// PlanKey holds the job's Plan (JSON), written fenced by the leader.
func PlanKey(id string) string { return JobsPrefix + id + "/plan" }

// TasksPrefix is the prefix of the per-task results.
func TasksPrefix(id string) string { return JobsPrefix + id + "/tasks/" }

// TaskKey holds task i's counts (Counts.Encode), written once, fenced by
// the task's lock, by the worker that ran it.
func TaskKey(id string, i int) string { return TasksPrefix(id) + strconv.Itoa(i) }

// TaskLock is the name of the lock a worker holds while it runs task i
// (a lock name is one segment of the store's keyspace: no '/').
func TaskLock(id string, i int) string { return "wordcount:" + id + ":task:" + strconv.Itoa(i) }

// ResultKey holds the job's merged counts (Counts.Encode), written once,
// fenced by the leader.
func ResultKey(id string) string { return JobsPrefix + id + "/result" }

// ParseKey splits a key under JobsPrefix into its job ID and the rest
// ("spec", "tasks/3"...).
func ParseKey(key string) (id, rest string, ok bool) {
	return strings.Cut(strings.TrimPrefix(key, JobsPrefix), "/")
}
