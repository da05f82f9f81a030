package kubetest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// stopGrace is how long a server has to exit after SIGTERM before it is
// killed; its state is thrown away, so there is nothing to wait for beyond
// a tidy exit.
const stopGrace = 5 * time.Second

// process is a server started by Start, its output in a log file.
type process struct {
	name string
	log  string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited and been reaped
	err  error         // its exit status, once done is closed
}

// startProcess starts bin with args, stdin empty and stdout and stderr
// both in dir/<name>.log.
func startProcess(name, bin string, args []string, dir string) (*process, error) {
	p := &process{name: name, log: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	f, err := os.Create(p.log)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	// The child has its own copy of the descriptor.
	defer f.Close()
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = dir
	p.cmd.Stdout = f
	p.cmd.Stderr = f
	p.cmd.SysProcAttr = sysProcAttr()
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process (by its PID), and SIGKILL if it has
// not exited stopGrace later; it returns once the process is reaped.
func (p *process) stop() error {
	if p.exited() {
		return nil
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop %s (pid %d): %w", p.name, p.cmd.Process.Pid, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(stopGrace):
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill %s (pid %d): %w", p.name, p.cmd.Process.Pid, err)
	}
	<-p.done
	return nil
}

// tail returns the last n lines of the process's log, for error messages.
func (p *process) tail(n int) string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", p.log, err)
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// failure wraps err with the process's exit status, if it has exited, and
// the last lines of its log.
func (p *process) failure(err error) error {
	status := ""
	if p.exited() {
		status = fmt.Sprintf(" (exited: %v)", p.err)
	}
	return fmt.Errorf("%s%s: %w\n--- last lines of %s ---\n%s", p.name, status, err, p.log, p.tail(20))
}

// portInUse reports whether the process's log says a port it was given was
// taken meanwhile by someone else, which a new set of ports fixes.
func (p *process) portInUse() bool {
	b, err := os.ReadFile(p.log)
	return err == nil && strings.Contains(string(b), "address already in use")
}
