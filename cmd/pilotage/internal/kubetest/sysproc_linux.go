package kubetest

import "syscall"

// sysProcAttr makes the kernel kill a server when the test binary dies
// without running its cleanups (a test timeout, a crash), so that no
// apiserver outlives its test.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
