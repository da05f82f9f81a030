package supervisor

import (
	"fmt"
	"os"
	"syscall"
	"time"
)

// A binStamp tells whether the application binary's file changed: its
// inode, size and modification time.
type binStamp struct {
	dev, ino uint64
	size     int64
	mod      time.Time
}

func stampOf(path string) (binStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return binStamp{}, err
	}
	st := binStamp{size: fi.Size(), mod: fi.ModTime()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.dev, st.ino = uint64(sys.Dev), sys.Ino
	}
	return st, nil
}

// checkBinary makes sure the binary a replica is about to run is still
// the build the run started with: every process of a run shares its
// deployment id, so a process of another build (the file rebuilt in
// place) must not start under it. A changed file is hashed again; only
// other bytes refuse the start. s.mu is held.
func (s *Supervisor) checkBinary() error {
	st, err := stampOf(s.opts.Binary)
	if err != nil {
		return fmt.Errorf("the application binary: %w", err)
	}
	if st == s.binStamp {
		return nil
	}
	b, err := readBinary(s.opts.Binary, false)
	if err != nil {
		return err
	}
	if deploymentID(s.plan.App, b.hash) != s.plan.Deployment {
		return fmt.Errorf("%s holds another build than the one this run started with (deployment %s): calls never cross builds, so stop pilotage run and start it again to run the new one", s.opts.Binary, s.plan.Deployment)
	}
	s.binStamp = st
	return nil
}
