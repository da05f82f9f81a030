package coordination

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/pilotage/pilotage/bench/coordination/failoverapp/candidate"
	"github.com/pilotage/pilotage/coord"
)

// pilotageBin returns the pilotage command: $PILOTAGE_BIN, else one built
// from ../../cmd/pilotage once.
var pilotageBin = sync.OnceValues(func() (string, error) {
	if bin := os.Getenv("PILOTAGE_BIN"); bin != "" {
		return bin, nil
	}
	return build("../../cmd/pilotage", "pilotage")
})

// failoverBin is the benchmark's app, built once.
var failoverBin = sync.OnceValues(func() (string, error) {
	return build("./failoverapp", "failoverapp")
})

// binDir holds what the benchmark builds.
var binDir = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "bench-bin-")
	if err == nil {
		atExit(func() { os.RemoveAll(dir) })
	}
	return dir, err
})

func build(pkgDir, name string) (string, error) {
	dir, err := binDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = pkgDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %w\n%s", pkgDir, err, out)
	}
	return bin, nil
}

// A syncBuffer collects a process's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A supervisor is "pilotage run" of an app, started by the benchmark.
type supervisor struct {
	bin      string // pilotage
	cmd      *exec.Cmd
	out      *syncBuffer
	stateDir string
	exited   chan struct{}
	started  time.Time
}

// runSupervisor starts "pilotage run -c config app" in a fresh state
// directory.
func runSupervisor(config, app string) (*supervisor, error) {
	bin, err := pilotageBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "bench-run-") // short: socket paths
	if err != nil {
		return nil, err
	}
	s := &supervisor{bin: bin, out: &syncBuffer{}, stateDir: dir, exited: make(chan struct{})}
	s.cmd = exec.Command(bin, "run", "-c", config, app)
	s.cmd.Env = append(os.Environ(), "PILOTAGE_STATE_DIR="+dir)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	s.started = time.Now()
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	go func() {
		s.cmd.Wait()
		close(s.exited)
	}()
	return s, nil
}

// stop interrupts the supervisor, which stops the app, and kills it if
// it has not exited within 10s.
func (s *supervisor) stop() error {
	defer os.RemoveAll(s.stateDir)
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
		return nil
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
		return fmt.Errorf("pilotage run did not stop within 10s of an interrupt; output:\n%s", s.out.String())
	}
}

// appStatus is what the benchmark reads of "pilotage status -json".
type appStatus struct {
	Coordination *struct {
		Endpoints []string `json:"endpoints"`
		Prefix    string   `json:"prefix"`
	} `json:"coordination"`
	Units []struct {
		Name     string `json:"name"`
		Replicas []struct {
			PID   int    `json:"pid"`
			State string `json:"state"`
		} `json:"replicas"`
	} `json:"units"`
}

func (s *supervisor) status() (appStatus, error) {
	cmd := exec.Command(s.bin, "status", "-json")
	cmd.Env = append(os.Environ(), "PILOTAGE_STATE_DIR="+s.stateDir)
	out, err := cmd.Output()
	if err != nil {
		return appStatus{}, fmt.Errorf("pilotage status: %w", err)
	}
	var st appStatus
	if err := json.Unmarshal(out, &st); err != nil {
		return appStatus{}, fmt.Errorf("pilotage status: %w", err)
	}
	return st, nil
}

// ready waits until the status shows the store and every replica of
// every unit ready, up to limit.
func (s *supervisor) ready(limit time.Duration) (appStatus, error) {
	deadline := time.Now().Add(limit)
	for {
		st, err := s.status()
		if err == nil && st.Coordination != nil && allReady(st) {
			return st, nil
		}
		select {
		case <-s.exited:
			return appStatus{}, fmt.Errorf("pilotage run exited; output:\n%s", s.out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return appStatus{}, fmt.Errorf("app not ready within %v (last status error: %v); output:\n%s", limit, err, s.out.String())
		}
	}
}

func allReady(st appStatus) bool {
	for _, u := range st.Units {
		if len(u.Replicas) == 0 {
			return false
		}
		for _, r := range u.Replicas {
			if r.State != "ready" {
				return false
			}
		}
	}
	return len(st.Units) > 0
}

// An acting is an announcement of a leader of the failover app, as the
// benchmark's watch received it.
type acting struct {
	pid   int
	token uint64
	at    time.Time // received
}

// failoverApp is the failover app under "pilotage run", and the
// benchmark's own session with its store. One benchmark uses it at a
// time.
type failoverApp struct {
	sup    *supervisor
	store  *coord.Store
	acting chan acting // every announcement, as received
	last   acting      // the latest one a benchmark took from acting
}

// sharedApp is started by the first benchmark that needs it and stopped
// at exit: every sample of every benchmark on it is a failover of the
// same app.
var sharedApp = sync.OnceValues(func() (*failoverApp, error) {
	bin, err := failoverBin()
	if err != nil {
		return nil, err
	}
	config, err := filepath.Abs("failoverapp/pilotage.toml")
	if err != nil {
		return nil, err
	}
	sup, err := runSupervisor(config, bin)
	if err != nil {
		return nil, err
	}
	a, err := connectApp(sup)
	if err != nil {
		sup.stop()
		return nil, err
	}
	atExit(func() {
		a.store.Close()
		if err := sup.stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	})
	return a, nil
})

// connectApp waits for the app, connects to its store as the operator
// tools do and starts watching its announcements.
func connectApp(sup *supervisor) (*failoverApp, error) {
	st, err := sup.ready(30 * time.Second)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	store, err := coord.Connect(ctx, coord.Options{
		Endpoints: st.Coordination.Endpoints, Prefix: st.Coordination.Prefix, Replica: "benchmark",
	})
	if err != nil {
		return nil, err
	}
	// The leader may have announced itself already.
	entries, rev, err := store.List(ctx, candidate.ActingKey)
	if err != nil {
		store.Close()
		return nil, err
	}
	a := &failoverApp{sup: sup, store: store, acting: make(chan acting, 1024)}
	for _, e := range entries {
		if e.Key == candidate.ActingKey {
			a.received(e.Value)
		}
	}
	go func() {
		for ev, err := range store.Watch(context.Background(), candidate.ActingKey, rev+1) {
			if err != nil {
				return // closed at exit
			}
			if ev.Type == coord.Put && ev.Key == candidate.ActingKey {
				a.received(ev.Value)
			}
		}
	}()
	return a, nil
}

// received notes an announcement ("<pid> <token>") received now.
func (a *failoverApp) received(value []byte) {
	act := acting{at: time.Now()}
	if _, err := fmt.Sscanf(string(value), "%d %d", &act.pid, &act.token); err == nil {
		a.acting <- act
	}
}

// steady waits, up to limit, until the election has at least two
// candidates and its leader has announced itself, drains the
// announcements received so far, and returns the leader's.
func (a *failoverApp) steady(limit time.Duration) (acting, error) {
	deadline := time.Now().Add(limit)
	for {
	drain:
		for {
			select {
			case act := <-a.acting:
				a.last = act
			default:
				break drain
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		es, err := a.store.Elections(ctx)
		cancel()
		if err == nil {
			for _, e := range es {
				if e.Name == candidate.ElectionName && e.Candidates >= 2 && e.Leader.Token == a.last.token {
					time.Sleep(settle) // the candidate that just queued up watches
					return a.last, nil
				}
			}
		}
		if time.Now().After(deadline) {
			return acting{}, fmt.Errorf("no steady leader within %v (elections %+v, %v; last acting %+v)", limit, es, err, a.last)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// nextActing waits for an announcement by another pid than loser.
func (a *failoverApp) nextActing(loser int, limit time.Duration) (acting, error) {
	timeout := time.After(limit)
	for {
		select {
		case act := <-a.acting:
			a.last = act
			if act.pid != loser {
				return act, nil
			}
		case <-timeout:
			return acting{}, fmt.Errorf("no leader other than pid %d acted within %v", loser, limit)
		}
	}
}

// lostAfter waits until pid wrote that it lost its leadership at a
// revision after rev, and returns what it wrote.
func (a *failoverApp) lostAfter(pid int, rev int64, limit time.Duration) (string, error) {
	deadline := time.Now().Add(limit)
	key := candidate.LostPrefix + strconv.Itoa(pid)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		e, err := a.store.Get(ctx, key)
		cancel()
		if err == nil && e.Revision > rev {
			return string(e.Value), nil
		}
		if err != nil && !errors.Is(err, coord.ErrNotFound) {
			return "", err
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("pid %d did not record that it lost the leadership within %v", pid, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func signal(pid int, sig syscall.Signal) error {
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("%v pid %d: %w", sig, pid, err)
	}
	return nil
}

// resignedAt waits, up to limit, for the log line of pid resigning the
// leadership token, and returns the wall-clock time it gives.
func (a *failoverApp) resignedAt(pid int, token uint64, limit time.Duration) (time.Time, error) {
	re := regexp.MustCompile(fmt.Sprintf(`msg=resigning .*pid=%d token=%d at_unix_nano=(\d+)`, pid, token))
	deadline := time.Now().Add(limit)
	for {
		if m := re.FindStringSubmatch(a.sup.out.String()); m != nil {
			ns, err := strconv.ParseInt(m[1], 10, 64)
			return time.Unix(0, ns), err
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("pid %d logged no resignation of token %d within %v", pid, token, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// readyLine is the supervisor's line on its embedded store: from its
// start to the store serving and its own client connected, and the etcd
// server's start alone.
var readyLine = regexp.MustCompile(`coordination store embedded at \S+, ready in (\S+)(?: \(the server in ([^)\s]+)\))?`)

// readyIn returns the supervisor's figures for its store's start, from
// its output: ready, and the server's start (0 if not given).
func readyIn(out string) (ready, server time.Duration, ok bool) {
	m := readyLine.FindStringSubmatch(out)
	if m == nil {
		return 0, 0, false
	}
	ready, err := time.ParseDuration(m[1])
	if err != nil {
		return 0, 0, false
	}
	if m[2] != "" {
		server, _ = time.ParseDuration(m[2])
	}
	return ready, server, true
}
