//go:build !linux

package kubetest

import "syscall"

// sysProcAttr is empty where the kernel cannot tie a child's life to its
// parent's; the servers are then stopped only by the tests' cleanups.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
