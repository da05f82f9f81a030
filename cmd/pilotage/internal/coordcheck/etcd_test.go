package coordcheck

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/coordserver"
	"github.com/pilotage/pilotage/coord"
)

// etcdSize is how many operations of each workload TestEtcdLinearizable
// records, and the longest it runs the clients.
func etcdSize() (kv, locks int, limit time.Duration) {
	if testing.Short() {
		return 1500, 700, 8 * time.Second
	}
	return 6000, 4000, 45 * time.Second // 10,000 operations, unless the machine is too slow
}

// workersPerClient is how many goroutines of a client process run its
// workload, each a client of the history.
const workersPerClient = 6

// A clientProc is a client process of TestEtcdLinearizable.
type clientProc struct {
	name    string
	spec    clientSpec
	cmd     *exec.Cmd
	stdin   interface{ Close() error }
	stderr  bytes.Buffer
	done    chan struct{} // closed once its stdout is read and it exited
	exitErr error

	mu      sync.Mutex
	paused  bool
	killed  bool
	stopped bool // by stop
}

// clientSpec is what the clients of one workload share.
type clientSpec struct {
	role, prefix string
	keys         []string
	ttl          time.Duration
	collector    *Collector
	operator     *coord.Store // revokes the sessions of killed clients, as a deployer does
}

// startClient starts a client process of spec, named name, whose records
// go to spec's collector.
func startClient(t *testing.T, endpoint string, spec clientSpec, name string, seed uint64) *clientProc {
	t.Helper()
	c := &clientProc{name: name, spec: spec, done: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0], "-test.run=^$")
	c.cmd.Env = append(os.Environ(),
		"COORDCHECK_CLIENT="+spec.role,
		"COORDCHECK_ENDPOINT="+endpoint,
		"COORDCHECK_PREFIX="+spec.prefix,
		"COORDCHECK_NAME="+name,
		"COORDCHECK_KEYS="+strings.Join(spec.keys, ","),
		fmt.Sprintf("COORDCHECK_WORKERS=%d", workersPerClient),
		"COORDCHECK_TTL="+spec.ttl.String(),
		fmt.Sprintf("COORDCHECK_SEED=%d", seed),
	)
	c.cmd.Stderr = &c.stderr
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := c.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.stdin = stdin
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start client %s: %v", name, err)
	}
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var r Record
			// A client killed in the middle of a line leaves it cut short:
			// only the last line of a killed client can be.
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				continue
			}
			spec.collector.Add(r)
		}
		c.exitErr = c.cmd.Wait()
	}()
	return c
}

// signal sends sig to the client unless it was killed.
func (c *clientProc) signal(t *testing.T, sig syscall.Signal) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.killed {
		return false
	}
	if err := c.cmd.Process.Signal(sig); errors.Is(err, os.ErrProcessDone) {
		// It failed on its own: stop says why.
		c.killed = true
		return false
	} else if err != nil {
		t.Errorf("signal %v to client %s (pid %d): %v", sig, c.name, c.cmd.Process.Pid, err)
		return false
	}
	switch sig {
	case syscall.SIGKILL:
		c.killed = true
	case syscall.SIGSTOP:
		c.paused = true
	case syscall.SIGCONT:
		c.paused = false
	}
	return true
}

// stop continues the client if paused, closes its stdin and waits for it
// to exit, killing it after a bound.
func (c *clientProc) stop(t *testing.T) {
	c.mu.Lock()
	paused, killed, stopped := c.paused, c.killed, c.stopped
	c.stopped = true
	c.mu.Unlock()
	if stopped {
		return
	}
	if !killed {
		if paused {
			c.signal(t, syscall.SIGCONT)
		}
		c.stdin.Close()
	}
	select {
	case <-c.done:
	case <-time.After(15 * time.Second):
		t.Errorf("client %s (pid %d) did not stop within 15s: killed", c.name, c.cmd.Process.Pid)
		c.signal(t, syscall.SIGKILL)
		<-c.done
	}
	if !killed && c.exitErr != nil {
		t.Errorf("client %s (pid %d): %v; stderr:\n%s", c.name, c.cmd.Process.Pid, c.exitErr, c.stderr.String())
	}
}

// TestEtcdLinearizable runs clients in several processes on a real
// embedded etcd, KV clients and lock (and election) clients at once, while it kills
// clients (SIGKILL, sometimes revoking their sessions as a deployer does,
// sometimes leaving them to expire), pauses them (SIGSTOP for up to 2.5 s,
// past their 1 s leases, then SIGCONT), starts new ones and takes locks
// from their holders (ForceUnlock, recorded); then it checks the KV
// history against KVModel (per key, with CheckRevisions across keys and
// locks) and the lock history against LockModel.
//
// The KV history is checked per key: with a dozen and more concurrent
// clients and dozens of killed operations, porcupine's search of one state
// for the whole store does not end within 30 s. The in-memory test checks
// that state (contiguous revisions too), on histories without kills.
func TestEtcdLinearizable(t *testing.T) {
	kvSize, locksSize, limit := etcdSize()
	srv, err := coordserver.Start(t.Context(), coordserver.Options{Dir: filepath.Join(t.TempDir(), "etcd")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	endpoint := srv.Endpoint()

	kv := clientSpec{role: "kv", prefix: "/coordcheck/kv/", keys: []string{"a", "b", "c", "d"}, ttl: time.Second, collector: &Collector{}}
	locks := clientSpec{role: "locks", prefix: "/coordcheck/locks/", keys: []string{"u", "v", "w", "x", ElectionPrefix + "y", ElectionPrefix + "z"}, ttl: time.Second, collector: &Collector{}}
	for _, spec := range []*clientSpec{&kv, &locks} {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		spec.operator, err = coord.Connect(ctx, coord.Options{Endpoints: []string{endpoint}, Prefix: spec.prefix, Replica: "operator"})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { spec.operator.Close() })
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	operator := Workload{Store: locks.operator, Rec: NewRecorder(locks.collector.Add), Client: "operator", Rand: rng}

	var clients []*clientProc
	started := 0
	start := func(spec clientSpec) {
		started++
		clients = append(clients, startClient(t, endpoint, spec, fmt.Sprintf("%s%d", spec.role, started), rng.Uint64()))
	}
	for range 3 {
		start(kv)
		start(locks)
	}
	defer func() {
		for _, c := range clients {
			c.stop(t)
		}
	}()

	var iteration, kills, revokeCalls, revokes, pauses, forced int
	var resumes sync.WaitGroup
	finished := make(chan struct{})
	begin := time.Now()
	// done: the workloads that have recorded enough, whose clients are
	// stopped, leaving the machine to the others.
	done := map[string]bool{}
	for time.Since(begin) < limit {
		done[kv.role] = done[kv.role] || kv.collector.Returns() >= kvSize
		done[locks.role] = done[locks.role] || locks.collector.Returns() >= locksSize
		if done[kv.role] && done[locks.role] {
			break
		}
		var live []*clientProc
		for _, c := range clients {
			if done[c.spec.role] {
				c.stop(t)
				continue
			}
			c.mu.Lock()
			if !c.killed && !c.paused {
				live = append(live, c)
			}
			c.mu.Unlock()
		}
		time.Sleep(time.Duration(100+rng.IntN(300)) * time.Millisecond)
		if len(live) == 0 {
			continue
		}
		c := live[rng.IntN(len(live))]
		r := rng.IntN(10)
		switch iteration++; iteration {
		case 1:
			r = 4 // a pause and a kill in every run, however short
		case 2:
			r = 0
		}
		switch {
		case r < 2:
			if !c.signal(t, syscall.SIGKILL) {
				continue
			}
			kills++
			if rng.IntN(2) == 0 {
				// As the supervisor does when it sees a process exit.
				revokeCalls++
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				n, err := c.spec.operator.RevokeReplica(ctx, c.name, c.cmd.Process.Pid)
				cancel()
				if err != nil {
					t.Errorf("revoke %s: %v", c.name, err)
				}
				revokes += n
			}
			start(c.spec)
		case r < 5:
			if !c.signal(t, syscall.SIGSTOP) {
				continue
			}
			pauses++
			pause := time.Duration(100+rng.IntN(2400)) * time.Millisecond
			resumes.Go(func() {
				select {
				case <-time.After(pause):
				case <-finished:
					// stop continues it.
					return
				}
				c.signal(t, syscall.SIGCONT)
			})
		case r < 7:
			name := locks.keys[rng.IntN(len(locks.keys))]
			if IsElection(name) {
				continue
			}
			if err := operator.ForceUnlock(t.Context(), name); err != nil {
				t.Fatal(err)
			}
			forced++
		}
	}
	close(finished)
	resumes.Wait()
	for _, c := range clients {
		c.stop(t)
	}
	clients = nil
	elapsed := time.Since(begin)
	t.Logf("%d client processes of %d goroutines in %v: %d killed (%d of them revoked: %d sessions), %d paused, %d force-unlocks",
		started, workersPerClient, elapsed.Round(time.Millisecond), kills, revokeCalls, revokes, pauses, forced)

	// How many operations the clients make in the time depends on the
	// machine; so few that the check means little, on clients failing.
	if n := kv.collector.Returns(); n < 200 {
		t.Errorf("kv: only %d operations returned in %v", n, elapsed)
	}
	if n := locks.collector.Returns(); n < 100 {
		t.Errorf("locks: only %d operations returned in %v", n, elapsed)
	}
	kvModel := KVModel{Keys: kv.keys, PerKey: true}
	kvOps := checkLinearizable(t, "kv", kvModel, kv.collector.Records(), checkTimeout)
	lockOps := checkLinearizable(t, "locks", LockModel{}, locks.collector.Records(), checkTimeout)
	if err := CheckRevisions(kvOps, lockOps); err != nil {
		dir := saveFailure(t, "revisions", kvModel, kv.collector.Records(), kvOps)
		t.Fatalf("revisions: %v; KV history in %s", err, dir)
	}
	t.Logf("kv: %v", outcomes(kvOps))
	t.Logf("locks: %v", outcomes(lockOps))
}
