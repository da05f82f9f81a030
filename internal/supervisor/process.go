package supervisor

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/pilotage/pilotage/internal/proclet"
)

// A proc is one running process of a slot: a proclet or a unit's program.
type proc struct {
	slot    *slot
	cmd     *exec.Cmd
	pid     int
	conn    *ctlConn // nil for a unit
	started time.Time
	exited  chan struct{} // closed once the process has been waited for

	// Guarded by Supervisor.mu.
	ready     bool
	readyAt   time.Time
	stopping  bool
	failure   string // set when stopped because it failed (unhealthy, probe timeout)
	lastError string // from a Failed message
	rpcAddr   string
	listeners map[string]string // listener name -> address the replica bound
	cancel    func()            // stops the readiness probe of a unit
}

// source is the name of a slot's log lines: "cart.Cart/1", or "redis".
func (sl *slot) source() string {
	if sl.node.IsUnit() {
		return sl.node.Name
	}
	return fmt.Sprintf("%s/%d", sl.node.Name, sl.index)
}

// socketPath returns the RPC socket of a replica, shortened if the path would
// exceed the limit of Unix socket addresses.
func (s *Supervisor) socketPath(sl *slot) string {
	dir := filepath.Join(s.opts.StateDir, "sock")
	p := filepath.Join(dir, fmt.Sprintf("%s-%d.sock", sl.node.Name, sl.index))
	if len(p) < 100 {
		return p
	}
	return filepath.Join(dir, fmt.Sprintf("g%d-%d.sock", sl.node.order, sl.index))
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
	sock := s.socketPath(sl)
	if err := os.Remove(sock); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("start %s: %w", sl.source(), err)
	}
	env, err := json.Marshal(proclet.Env{
		App:        s.plan.App,
		Group:      n.Name,
		Replica:    sl.index,
		Components: n.Components,
		Listeners:  listeners,
		RPCAddress: "unix:" + sock,
		ConfigPath: s.opts.ConfigPath,
	})
	if err != nil {
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
	cmd.Env = append(cmd.Env, proclet.EnvVar+"="+string(env))
	if s.opts.ConfigPath != "" {
		cmd.Env = append(cmd.Env, "PILOTAGE_CONFIG="+s.opts.ConfigPath)
	}
	cmd.ExtraFiles = []*os.File{child} // fd 3, proclet.ControlFD
	readDone := make(chan struct{})
	p, err := s.startProc(sl, cmd, readDone)
	if err != nil {
		conn.close()
		return nil, err
	}
	p.conn = conn
	conn.sendRoutes(s.routesMessage()) // before the proclet starts any component
	go func() {
		defer close(readDone)
		conn.readLoop(func(m proclet.Message) { s.handle(p, m) })
	}()
	return p, nil
}

func (s *Supervisor) spawnUnit(sl *slot) (*proc, error) {
	u := sl.node.Unit
	cmd := exec.Command(u.Command, u.Args...)
	cmd.Dir = s.opts.Dir
	if u.Dir != "" {
		cmd.Dir = u.Dir
		if !filepath.IsAbs(u.Dir) && s.opts.Dir != "" {
			cmd.Dir = filepath.Join(s.opts.Dir, u.Dir)
		}
	}
	cmd.Env = append(os.Environ(), u.Env...)
	p, err := s.startProc(sl, cmd, nil)
	if err != nil {
		return nil, err
	}
	s.watchUnit(p)
	return p, nil
}

// startProc starts cmd with its output pumped to s.out, and waits for it in
// the background. A proclet's exit is handled once its control messages are
// read (readDone closed), so a Failed message sent just before exiting is
// part of the exit's reason. s.mu is held.
func (s *Supervisor) startProc(sl *slot, cmd *exec.Cmd, readDone <-chan struct{}) (*proc, error) {
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
	p := &proc{slot: sl, cmd: cmd, pid: cmd.Process.Pid, started: time.Now(), exited: make(chan struct{}), listeners: map[string]string{}}
	source := sl.source()
	s.pumps.Add(2)
	go func() { defer s.pumps.Done(); defer outR.Close(); s.out.pump(source, outR) }()
	go func() { defer s.pumps.Done(); defer errR.Close(); s.out.pump(source, errR) }()
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		err := cmd.Wait()
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

// signal sends sig to p unless it has been waited for (os.Process uses a
// pidfd, so a recycled pid is never signalled).
func (p *proc) signal(sig syscall.Signal) {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Signal(sig)
	}
}

// exitReason describes how a process ended.
func exitReason(err error) string {
	if err == nil {
		return "exited with status 0"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "killed by signal " + ws.Signal().String()
		}
		return fmt.Sprintf("exited with status %d", ee.ExitCode())
	}
	return err.Error()
}
