package supervisor

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pilotage/pilotage/internal/config"
)

// buildWordcount builds examples/wordcount once per test binary.
var buildWordcount = sync.OnceValues(func() (string, error) {
	dir, err := filepath.Abs("../../../../examples/wordcount")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "..", "..", ".cache", "wordcount")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the wordcount example: %w\n%s", err, out)
	}
	return bin, nil
})

// The wordcount job of TestChaosWordcount: its tasks take long enough that
// the chaos loop hits every phase of the job, a worker in the middle of a
// task most of all.
const (
	chaosFiles     = 60
	chaosTaskDelay = 300 * time.Millisecond
	chaosParallel  = 3
)

// wordcountConfig writes a pilotage.toml for job id, whose tasks take
// delay each, and returns its path and contents.
func wordcountConfig(t *testing.T, id string, delay time.Duration) (string, *config.File) {
	t.Helper()
	text := fmt.Sprintf(`[app]
name = "wordcount"

[components."pilotage.Main"]
job = %q
files = %d
words_per_file = 5000
seed = 1
task_delay = %q

[components."coordinator.Coordinator"]
parallel = %d

[run]
start_limit = 1000 # killed again and again on purpose: never cooled down

[run.components."worker.Worker"]
replicas = 3
`, id, chaosFiles, delay.String(), chaosParallel)
	path := filepath.Join(t.TempDir(), "pilotage.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, cfg
}

var (
	resultLine  = regexp.MustCompile(`result: (\d+ distinct, \d+ total, sha256 [0-9a-f]{64})`)
	leadingLine = regexp.MustCompile(`msg=leading .*pid=(\d+)`)
)

// The example word count under pilotage run, 3 workers and 2 coordinator
// candidates, while a replica (main, a coordinator, a worker, the leader
// every third time) is killed with SIGKILL every 300–500 ms until main
// prints the result: the result is exactly that of the same job in one
// process, and the app ends by itself.
func TestChaosWordcount(t *testing.T) {
	if testing.Short() {
		t.Skip("builds examples/wordcount and runs it three times")
	}
	t.Parallel()
	bin, err := buildWordcount()
	if err != nil {
		t.Fatal(err)
	}
	appDir, err := filepath.Abs("../../../../examples/wordcount")
	if err != nil {
		t.Fatal(err)
	}

	// The reference: one process, the in-memory store, no delay.
	path, _ := wordcountConfig(t, "alone", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "PILOTAGE_CONFIG="+path)
	out, err := cmd.Output()
	m := resultLine.FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("the job in one process: %v; output:\n%s", err, out)
	}
	want := string(m[1])

	calm := runWordcount(t, appDir, bin, false)
	chaos := runWordcount(t, appDir, bin, true)
	for _, r := range []wordcountRun{calm, chaos} {
		if r.result != want {
			t.Errorf("%s: result %q; in one process %q", r.name, r.result, want)
		}
	}
	t.Logf("result: %s", want)
	t.Logf("calm: job done in %v", calm.took.Round(time.Millisecond))
	t.Logf("chaos: job done in %v, %d kills %v (%d of the leader), %d leaderships",
		chaos.took.Round(time.Millisecond), sum(chaos.kills), chaos.kills, chaos.leaderKills, chaos.leaderships)
	if chaos.leaderKills == 0 || chaos.kills["worker.Worker"] == 0 {
		t.Errorf("the chaos missed the leader or the workers: %v, %d of the leader", chaos.kills, chaos.leaderKills)
	}
}

// A wordcountRun is what one run of the job under the supervisor showed.
type wordcountRun struct {
	name        string
	result      string
	took        time.Duration  // from the supervisor's start to the result
	kills       map[string]int // by component
	leaderKills int
	leaderships int // "leading" lines: how many times a coordinator took over
}

// runWordcount runs the job under a supervisor, killing replicas if chaos,
// and returns once the app has ended by itself.
func runWordcount(t *testing.T, dir, bin string, chaos bool) wordcountRun {
	t.Helper()
	run := wordcountRun{name: "calm", kills: map[string]int{}}
	if chaos {
		run.name = "chaos"
	}
	path, cfg := wordcountConfig(t, run.name, chaosTaskDelay)
	start := time.Now()
	h := launch(t, Options{App: "wordcount", Binary: bin, Dir: dir, Config: cfg, ConfigPath: path})

	stop := make(chan struct{})
	killerDone := make(chan struct{})
	go func() {
		defer close(killerDone)
		if chaos {
			run.kills, run.leaderKills = killWordcount(h, stop)
		}
	}()
	deadline := time.After(45 * time.Second)
	for run.result == "" {
		select {
		case <-deadline:
			close(stop)
			<-killerDone
			t.Fatalf("%s: no result within 45s; status: %s", run.name, h.statusJSON())
		case <-time.After(20 * time.Millisecond):
		}
		if m := resultLine.FindStringSubmatch(h.out.String()); m != nil {
			run.result, run.took = m[1], time.Since(start)
		}
	}
	close(stop)
	<-killerDone
	run.leaderships = len(leadingLine.FindAllString(h.out.String(), -1))

	// Main returned: the app stops by itself.
	select {
	case err := <-h.done:
		close(h.done)
		if err != nil {
			t.Errorf("%s: Run: %v", run.name, err)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("%s: the app did not end within 15s of its result; status: %s", run.name, h.statusJSON())
	}
	return run
}

// maxKillsPerReplica bounds the kills of one replica. The supervisor
// restarts a replica that crashed again before it ran 10s after a backoff
// that doubles from 100ms to 5s: past 5 kills, a replica would spend more
// time waiting than working, and the job would measure the backoff rather
// than the protocol. 7 replicas × 5 kills outlast the job.
const maxKillsPerReplica = 5

// killWordcount kills a running replica with SIGKILL every 300–500 ms
// until stop is closed: the current leader every third time, else one at
// random, each at most maxKillsPerReplica times. It returns the kills by
// component and how many were of the leader.
func killWordcount(h *harness, stop <-chan struct{}) (kills map[string]int, leaderKills int) {
	type victim struct {
		component string
		index     int
		pid       int
	}
	kills = map[string]int{}
	perReplica := map[string]int{}
	key := func(v victim) string { return fmt.Sprintf("%s/%d", v.component, v.index) }
	for n := 0; ; n++ {
		select {
		case <-stop:
			return kills, leaderKills
		case <-time.After(300*time.Millisecond + rand.N(200*time.Millisecond)):
		}
		var victims []victim
		leader := currentLeader(h.out.String())
		var theLeader *victim
		st := h.s.Status()
		for _, name := range []string{"pilotage.Main", "coordinator.Coordinator", "worker.Worker"} {
			for _, r := range unitNamed(st, name).Replicas {
				v := victim{name, r.Index, r.PID}
				if r.PID == 0 || perReplica[key(v)] >= maxKillsPerReplica {
					continue
				}
				victims = append(victims, v)
				if name == "coordinator.Coordinator" && r.PID == leader {
					theLeader = &victims[len(victims)-1]
				}
			}
		}
		if len(victims) == 0 {
			continue
		}
		v := victims[rand.IntN(len(victims))]
		if n%3 == 0 && theLeader != nil {
			v = *theLeader
		}
		if err := syscall.Kill(v.pid, syscall.SIGKILL); err == nil {
			kills[v.component]++
			perReplica[key(v)]++
			if v.component == "coordinator.Coordinator" && v.pid == leader {
				leaderKills++
			}
		}
	}
}

// currentLeader returns the pid in the last "leading" line of output, 0 if
// none.
func currentLeader(output string) int {
	i := strings.LastIndex(output, "msg=leading ")
	if i < 0 {
		return 0
	}
	m := leadingLine.FindStringSubmatch(output[i:])
	if m == nil {
		return 0
	}
	pid, _ := strconv.Atoi(m[1])
	return pid
}
