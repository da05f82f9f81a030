package echo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
)

// Init starts a CPU profile of the serving process into
// $ECHOBENCH_CPUPROFILE/server-PID.prof when that is set (to look into a
// run of the benchmark); Shutdown ends it.
func (e *echo) Init(context.Context) error {
	dir := os.Getenv("ECHOBENCH_CPUPROFILE")
	if dir == "" {
		return nil
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("server-%d.prof", os.Getpid())))
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return err
	}
	e.profile = f
	return nil
}

// Shutdown ends the CPU profile Init began.
func (e *echo) Shutdown(context.Context) error {
	if e.profile == nil {
		return nil
	}
	pprof.StopCPUProfile()
	return e.profile.Close()
}
