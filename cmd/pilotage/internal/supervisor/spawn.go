package supervisor

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// Children are started with Pdeathsig=SIGKILL, which Linux delivers when the
// OS thread that forked them exits, not the process. So every child is
// started from one goroutine locked to its thread for the life of the
// process: the thread never exits while the supervisor lives, and dies with
// it.
var (
	spawnOnce sync.Once
	spawnReqs chan spawnReq
)

type spawnReq struct {
	cmd   *exec.Cmd
	reply chan error
}

// startCmd starts cmd from the spawner thread, in its own process group and
// with Pdeathsig=SIGKILL unless cmd sets another.
func startCmd(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnReqs = make(chan spawnReq)
		go spawnLoop()
	})
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	if cmd.SysProcAttr.Pdeathsig == 0 {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	r := spawnReq{cmd: cmd, reply: make(chan error, 1)}
	spawnReqs <- r
	return <-r.reply
}

func spawnLoop() {
	runtime.LockOSThread() // never unlocked: see above
	for r := range spawnReqs {
		r.reply <- r.cmd.Start()
	}
}
