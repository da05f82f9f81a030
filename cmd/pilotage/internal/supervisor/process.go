package supervisor

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/pilotage/pilotage/internal/envelope"
)

// A proc is one running process of a slot: a proclet or a unit's program.
type proc struct {
	slot    *slot
	cmd     *exec.Cmd
	leader  int         // the pid of cmd, leader of the process group signalled
	pid     int         // shown in status: the leader, or the unit its shim runs
	conn    *ctlConn    // nil for a unit
	shim    *shimReport // a unit's
	started time.Time
	exited  chan struct{} // closed once the process has been waited for

	sigMu  sync.Mutex
	reaped bool // the leader was waited for: its pid may be reused

	// Guarded by Supervisor.mu.
	ready        bool
	readyAt      time.Time
	stopping     bool
	respawn      bool      // stopped by a rolling restart: start a replacement at once
	unanswered   time.Time // when the oldest ping not answered yet was sent; zero if none
	unresponsive bool      // has not answered pings for a while: out of routing
	pingSeq      uint64
	failure      string // set when stopped because it failed (unhealthy, probe timeout)
	appDone      bool   // the app function returned (AppDone)
	lastError    string // from a Failed message
	rpcAddr      string
	greeted      bool              // its Hello came
	listeners    map[string]string // listener name -> address the replica bound
	cancel       func()            // stops the readiness probe of a unit
	heldInit     *envelope.Init    // a proclet's Init, until the coordination store is ready
	// callHealth is what its callers last said of the replicas they call
	// (CallHealth): by component full name.
	callHealth map[string]envelope.ComponentHealth
}

// source is the name of a slot's log lines: "cart.Cart/1", or "redis".
func (sl *slot) source() string {
	if sl.node.IsUnit() {
		return sl.node.Name
	}
	return fmt.Sprintf("%s/%d", sl.node.Name, sl.index)
}

// socketPath returns the RPC socket of a replica: "<order>-<group>-<replica>.sock"
// with the group's name reduced to safe characters (a name may hold
// slashes), or "g<order>-<replica>.sock" if the path would exceed the limit
// of Unix socket addresses. The node's order makes it unique.
func (s *Supervisor) socketPath(sl *slot) string {
	dir := s.sockDir()
	p := filepath.Join(dir, fmt.Sprintf("%d-%s-%d.sock", sl.node.order, safeName(sl.node.Name), sl.index))
	if len(p) < 100 {
		return p
	}
	return filepath.Join(dir, fmt.Sprintf("g%d-%d.sock", sl.node.order, sl.index))
}

// safeName maps every byte of name that is not a letter, digit, '.', '+',
// '-' or '_' to '_'.
func safeName(name string) string {
	b := []byte(name)
	for i, c := range b {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '+', c == '-', c == '_':
		default:
			b[i] = '_'
		}
	}
	return string(b)
}

// spawn starts the process of slot sl. s.mu is held.
func (s *Supervisor) spawn(sl *slot) (*proc, error) {
	if sl.node.IsUnit() {
		return s.spawnUnit(sl)
	}
	return s.spawnProclet(sl)
}

func (s *Supervisor) spawnProclet(sl *slot) (*proc, error) {
	n := sl.node
	listeners := map[string]string{}
	for _, l := range n.Listeners {
		listeners[l] = "127.0.0.1:0"
	}
	if err := s.checkBinary(); err != nil {
		return nil, fmt.Errorf("start %s: %w", sl.source(), err)
	}
	sock := s.socketPath(sl)
	if err := os.Remove(sock); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("start %s: %w", sl.source(), err)
	}
	conn, child, err := socketpair()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", sl.source(), err)
	}
	defer child.Close()
	cmd := exec.Command(s.opts.Binary)
	cmd.Dir = s.opts.Dir
	cmd.Env = append(os.Environ(), s.opts.Env...)
	cmd.ExtraFiles = []*os.File{child} // fd 3: the first of ExtraFiles
	cmd.Env = append(cmd.Env, envelope.EnvVar+"=3")
	readDone := make(chan struct{})
	p, err := s.startProc(sl, cmd, readDone, nil)
	if err != nil {
		conn.close()
		return nil, err
	}
	p.conn = conn
	rpcListen := "unix:" + sock
	if s.opts.RPCNetwork == "tcp" {
		rpcListen = "tcp:127.0.0.1:0" // the proclet advertises the port it bound
	}
	p.heldInit = &envelope.Init{
		App:        s.plan.App,
		Deployment: s.plan.Deployment,
		Group:      n.Name,
		Replica:    sl.source(),
		Components: n.Components,
		Listeners:  listeners,
		RPCListen:  rpcListen,
		ConfigPath: s.opts.ConfigPath,
		// The proclet checks its components' health itself, and reports
		// Unhealthy; the supervisor then replaces it.
		Health:    envelope.DefaultHealth,
		Telemetry: s.tel.Init(),
	}
	// The Init names the coordination store: it waits until the store is
	// ready (awaitCoordination), while the process starts; unless the app
	// does not use it.
	if s.coord != nil || !s.usesCoord {
		s.sendInit(p)
	}
	go func() {
		defer close(readDone)
		if err := conn.readLoop(func(m envelope.Message) {
			if !s.handleTelemetry(p, m) {
				s.handle(p, m)
			}
		}); err != nil {
			s.protocolError(p, err)
		}
	}()
	return p, nil
}

func (s *Supervisor) spawnUnit(sl *slot) (*proc, error) {
	u := sl.node.Unit
	cmd := exec.Command(u.Command, u.Args...)
	cmd.Dir = unitDir(s.opts.Dir, u.Dir)
	env := append(os.Environ(), u.Env...)
	// Checked before the start too (Plan.CheckUnitCommands), but the
	// program may have gone since.
	if err := findCommand(u.Command, u.Env, cmd.Dir); err != nil {
		return nil, fmt.Errorf("start %s: %w", sl.source(), err)
	}
	// The unit runs under a shim (see ShimCommand).
	argv := append([]string{ShimCommand, "-grace", s.opts.KillTimeout.String(), "--", u.Command}, u.Args...)
	shim := exec.Command(s.shimPath, argv...)
	shim.Dir, shim.Env = cmd.Dir, env
	reportR, reportW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", sl.source(), err)
	}
	shim.ExtraFiles = []*os.File{reportW} // fd 3, shimFD
	// The shim cleans up when the supervisor dies: it must outlive it
	// briefly, so its parent-death signal is SIGTERM.
	shim.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	var p *proc
	report := readShimReport(reportR, func(pid int) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if p == nil {
			return
		}
		p.pid = pid
		// A unit without a probe is ready once its program runs, so
		// status never shows the shim's pid as the unit's.
		if !hasProbe(u.Ready) && p.slot.p == p {
			s.markReady(p)
		}
	})
	p, err = s.startProc(sl, shim, nil, report)
	reportW.Close()
	if err != nil {
		return nil, err
	}
	s.watchUnit(p)
	return p, nil
}

// startProc starts cmd with its output pumped to s.out, and waits for it in
// the background. A proclet's exit is handled once its control messages are
// read (readDone closed), so a Failed message sent just before exiting is
// part of the exit's reason; a unit's exit is the one its shim reports.
// s.mu is held.
func (s *Supervisor) startProc(sl *slot, cmd *exec.Cmd, readDone <-chan struct{}, shim *shimReport) (*proc, error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", sl.source(), err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("start %s: %w", sl.source(), err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	err = startCmd(cmd)
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, fmt.Errorf("start %s: %w", sl.source(), err)
	}
	pid := cmd.Process.Pid
	p := &proc{slot: sl, cmd: cmd, leader: pid, pid: pid, shim: shim, started: time.Now(), exited: make(chan struct{}), listeners: map[string]string{}}
	source := sl.source()
	s.pumps.Add(2)
	go func() { defer s.pumps.Done(); defer outR.Close(); s.out.pump(source, outR) }()
	go func() { defer s.pumps.Done(); defer errR.Close(); s.out.pump(source, errR) }()
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		// While the leader is a zombie its pid, and so its process group,
		// cannot be reused: end what it left in its group, then reap it.
		waitExitedNoReap(p.leader)
		if readDone != nil { // a proclet: the locks it held pass on now
			s.revokeSessions(source, pid)
		}
		s.endGroup(p)
		p.sigMu.Lock()
		p.reaped = true
		p.sigMu.Unlock()
		err := cmd.Wait()
		if p.shim != nil {
			err = p.shim.exitOf(err)
		}
		close(p.exited)
		if readDone != nil {
			select {
			case <-readDone: // EOF: the child's end closed when it exited
			case <-time.After(time.Second): // a grandchild holds it open
			}
		}
		s.exited(p, err)
	}()
	return p, nil
}

// signal sends sig to the process group of p (every process it started
// that did not leave the group; a unit's shim ignores it), unless p has
// been reaped: until then the group's id cannot name another group.
func (p *proc) signal(sig syscall.Signal) {
	p.sigMu.Lock()
	defer p.sigMu.Unlock()
	if !p.reaped {
		_ = syscall.Kill(-p.leader, sig)
	}
}

// endGroup ends the processes left in p's group once its leader exited:
// SIGTERM, then SIGKILL after KillTimeout. The leader is not reaped yet.
func (s *Supervisor) endGroup(p *proc) {
	if len(groupMembers(p.leader, p.leader)) == 0 {
		return
	}
	_ = syscall.Kill(-p.leader, syscall.SIGTERM)
	deadline := time.Now().Add(s.opts.KillTimeout)
	for time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		if len(groupMembers(p.leader, p.leader)) == 0 {
			return
		}
	}
	_ = syscall.Kill(-p.leader, syscall.SIGKILL)
}

// waitExitedNoReap waits until pid, a child, has exited, leaving it a
// zombie (waitid with WNOWAIT).
func waitExitedNoReap(pid int) {
	const (
		pPID    = 1
		wExited = 0x4
		wNoWait = 0x1000000
	)
	var info [128]byte // siginfo_t
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid), uintptr(unsafe.Pointer(&info[0])), wExited|wNoWait, 0, 0)
		if errno != syscall.EINTR {
			return
		}
	}
}

// exitReason describes how a process ended.
func exitReason(err error) string {
	if err == nil {
		return "exited with status 0"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok {
			return waitReason(ws)
		}
		return fmt.Sprintf("exited with status %d", ee.ExitCode())
	}
	return err.Error()
}

func waitReason(ws syscall.WaitStatus) string {
	if ws.Signaled() {
		return "killed by signal " + ws.Signal().String()
	}
	return fmt.Sprintf("exited with status %d", ws.ExitStatus())
}
