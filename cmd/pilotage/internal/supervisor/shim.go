package supervisor

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ShimCommand is the hidden first argument that makes a program that calls
// RunShim (the pilotage command; the supervisor's tests) act as the shim of
// a unit:
//
//	<shim> __pilotage-unit-shim -grace 5s -- command args...
//
// A unit is any program; it may fork, and its children may fork and leave
// their process group. The supervisor cannot see them, and Pdeathsig only
// reaches a direct child, so each unit runs under a shim, a direct child of
// the supervisor with its own process group:
//
//   - the shim makes itself a child subreaper (PR_SET_CHILD_SUBREAPER), so
//     every descendant of the unit that loses its parent becomes the
//     shim's child, whatever process group or session it moved to;
//   - it runs the unit's command in the shim's own process group, so the
//     supervisor's signals to that group (stop: SIGTERM, then SIGKILL)
//     reach the unit and whatever it forked (the shim ignores them while
//     the supervisor lives);
//   - when the unit's main process exits, it ends what the unit left
//     behind (SIGTERM, then after the grace period SIGKILL), reports the
//     main process's wait status to the supervisor on fd 3, and exits;
//   - when the supervisor dies, even by SIGKILL, the shim gets its
//     parent-death signal (SIGTERM) and ends every descendant the same way.
const ShimCommand = "__pilotage-unit-shim"

// shimFD is the descriptor on which the shim reports to the supervisor:
// "pid N" once the unit started, "status N" (a wait status) once its main
// process exited and its leftovers are gone.
const shimFD = 3

// RunShim runs the shim if args (without the program name) start with
// ShimCommand, and then exits; otherwise it returns. Programs the supervisor
// may start as a shim (Options.Shim, default the running executable) call it
// first thing in main.
func RunShim(args []string) {
	if len(args) == 0 || args[0] != ShimCommand {
		return
	}
	os.Exit(shim(args[1:]))
}

func shim(args []string) int {
	grace := DefaultKillTimeout
	for len(args) > 0 && args[0] != "--" {
		if args[0] == "-grace" && len(args) > 1 {
			d, err := time.ParseDuration(args[1])
			if err == nil {
				grace = d
			}
			args = args[2:]
			continue
		}
		args = args[1:]
	}
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "pilotage unit shim: no command")
		return 2
	}
	argv := args[1:]
	report := os.NewFile(shimFD, "pilotage-shim-report")
	syscall.CloseOnExec(shimFD) // the unit must not hold it open
	if report == nil {
		report = os.NewFile(uintptr(2), "stderr") // not started by a supervisor
	}

	parent := os.Getppid()
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT)
	if os.Getppid() != parent || parent == 1 {
		return 1 // the supervisor is gone already
	}
	// PR_SET_CHILD_SUBREAPER = 36.
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, 36, 1, 0); errno != 0 {
		fmt.Fprintf(os.Stderr, "pilotage unit shim: PR_SET_CHILD_SUBREAPER: %v\n", errno)
	}

	// The unit dies with the shim's thread that forked it (Pdeathsig): the
	// main goroutine stays on its thread until the process exits.
	runtime.LockOSThread()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // in the shim's process group
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "pilotage: start unit: %v\n", err)
		fmt.Fprintf(report, "status %d\n", 127<<8)
		return 127
	}
	unit := cmd.Process.Pid
	fmt.Fprintf(report, "pid %d\n", unit)

	reaped := make(chan reapedProc, 16)
	go reapChildren(reaped)
	var mainStatus syscall.WaitStatus
	for mainDone := false; !mainDone; {
		select {
		case r := <-reaped:
			if r.pid == unit {
				mainStatus, mainDone = r.ws, true
			}
		case <-sigs:
			// The supervisor signals the whole group, the unit included: a
			// signal here only matters if it is the parent-death signal.
			if os.Getppid() != parent {
				endDescendants(grace, reaped)
				return 1
			}
		}
	}
	endDescendants(grace, reaped)
	fmt.Fprintf(report, "status %d\n", uint32(mainStatus))
	return 0
}

type reapedProc struct {
	pid int
	ws  syscall.WaitStatus
}

// reapChildren waits for every child of the shim, its own and the orphans
// it adopted as a subreaper, forever.
func reapChildren(out chan<- reapedProc) {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		switch {
		case err == syscall.EINTR:
		case err != nil: // ECHILD: none now; an orphan may be adopted later
			time.Sleep(10 * time.Millisecond)
		default:
			out <- reapedProc{pid, ws}
		}
	}
}

// endDescendants sends SIGTERM to every descendant of the shim, then
// SIGKILL to those still there after grace.
func endDescendants(grace time.Duration, reaped <-chan reapedProc) {
	self := os.Getpid()
	if len(descendants(self)) == 0 {
		return
	}
	signalDescendants(self, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		select {
		case <-reaped:
		case <-time.After(10 * time.Millisecond):
		}
		if len(descendants(self)) == 0 {
			return
		}
	}
	for range 10 { // a process may fork while it is being killed
		if signalDescendants(self, syscall.SIGKILL) == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func signalDescendants(root int, sig syscall.Signal) int {
	d := descendants(root)
	for _, pid := range d {
		_ = syscall.Kill(pid, sig)
	}
	return len(d)
}

// descendants lists the live (not zombie) descendants of root, from /proc.
func descendants(root int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	zombie := map[int]bool{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		ppid, state, ok := procStat(pid)
		if !ok {
			continue
		}
		children[ppid] = append(children[ppid], pid)
		zombie[pid] = state == 'Z'
	}
	var out []int
	queue := []int{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			if !zombie[c] {
				out = append(out, c)
			}
			queue = append(queue, c)
		}
	}
	return out
}

// procStat returns the parent pid and state of pid.
func procStat(pid int) (ppid int, state byte, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// pid (comm) S ppid pgrp ...: comm may hold spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 3 {
		return 0, 0, false
	}
	ppid, err = strconv.Atoi(f[1])
	if err != nil {
		return 0, 0, false
	}
	return ppid, f[0][0], true
}

// groupMembers lists the live processes of process group pgid but except,
// from /proc.
func groupMembers(pgid, except int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == except {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 3 || f[0] == "Z" {
			continue
		}
		if g, err := strconv.Atoi(f[2]); err == nil && g == pgid {
			out = append(out, pid)
		}
	}
	return out
}

// shimReport is the supervisor's end of a shim's report pipe.
type shimReport struct {
	mu     sync.Mutex
	status *syscall.WaitStatus // once reported
	done   chan struct{}       // closed at EOF
}

// readShimReport reads r until EOF, calling onPID with the unit's pid.
func readShimReport(r io.ReadCloser, onPID func(int)) *shimReport {
	sr := &shimReport{done: make(chan struct{})}
	go func() {
		defer close(sr.done)
		defer r.Close()
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			k, v, _ := strings.Cut(sc.Text(), " ")
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				continue
			}
			switch k {
			case "pid":
				onPID(int(n))
			case "status":
				ws := syscall.WaitStatus(uint32(n))
				sr.mu.Lock()
				sr.status = &ws
				sr.mu.Unlock()
			}
		}
	}()
	return sr
}

// exitOf returns the wait error of the unit as the shim reported it, or
// shimErr, the shim's own, if it did not report (it was killed).
func (sr *shimReport) exitOf(shimErr error) error {
	select {
	case <-sr.done:
	case <-time.After(time.Second):
	}
	sr.mu.Lock()
	defer sr.mu.Unlock()
	if sr.status == nil {
		return shimErr
	}
	if sr.status.Exited() && sr.status.ExitStatus() == 0 {
		return nil
	}
	return &unitExit{*sr.status}
}

// unitExit is the end of a unit's main process other than status 0.
type unitExit struct{ ws syscall.WaitStatus }

func (e *unitExit) Error() string { return waitReason(e.ws) }
