package supervisor

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/state"
)

// stateCheckInterval is how often the supervisor checks that its state
// directory is still in place.
const stateCheckInterval = time.Second

// maxProblems bounds the problems a stateWatch keeps for Status.
const maxProblems = 10

// A reopener is a LogSink that can write into its directory again after it
// was removed; *logstore.Store is one.
type reopener interface {
	Dir() string
	Reopen() error
}

// A stateWatch serves the control API in the supervisor's state directory
// and keeps the directory in place while the app runs. Someone removing
// the directory (or its lock file, control socket, sockets or logs) would
// otherwise go unnoticed: commands could no longer reach the supervisor,
// restarted replicas could not create their sockets, and a second
// supervisor could take the lock. The watch says so, in the supervisor's
// output and in Status, and recreates what it can: the directory, the
// lock (unless another supervisor took it), app.json, the binary built
// there, the control socket, the sockets' directory and the logs.
type stateWatch struct {
	s        *Supervisor
	dir      string
	interval time.Duration
	info     *state.AppInfo // app.json as the run wrote it; nil if it did not
	binary   *os.File       // the app's binary, kept open if it lives in the state directory
	stop     chan struct{}
	done     chan struct{} // closed when the loop returned; nil if not started

	mu      sync.Mutex
	lock    *os.File        // the lock this supervisor holds; nil while it holds none
	retaken bool            // lock was taken by the watch, which closes it
	srv     *control.Server // nil while the control API is not served
	other   int             // pid of another supervisor holding the lock, last reported
	failure string          // the last failure to repair, reported once

	// problems has a mutex of its own: the control API reads it while
	// w.mu may be held around the server's Listen or Close.
	pmu      sync.Mutex
	problems []string
}

// serveControl serves the control API in the state directory, whose lock
// is held, and watches the directory until the returned watch is closed.
func (s *Supervisor) serveControl(lock *os.File) (*stateWatch, error) {
	w := newStateWatch(s, lock)
	if err := w.listen(); err != nil {
		return nil, err
	}
	w.start(stateCheckInterval)
	return w, nil
}

func newStateWatch(s *Supervisor, lock *os.File) *stateWatch {
	w := &stateWatch{s: s, dir: s.opts.StateDir, lock: lock, stop: make(chan struct{})}
	if info, err := state.ReadAppInfo(w.dir); err == nil && info.PID == os.Getpid() {
		w.info = &info
	}
	// A binary built into the state directory goes with it, and every
	// restart needs it: keep it open to write it again.
	if rel, err := filepath.Rel(w.dir, s.opts.Binary); err == nil && filepath.IsLocal(rel) {
		if f, err := os.Open(s.opts.Binary); err == nil {
			w.binary = f
		}
	}
	return w
}

// watchedBackend is the supervisor as the control API shows it: with the
// problems of its state directory in the app's status.
type watchedBackend struct {
	*Supervisor
	w *stateWatch
}

// Snapshot is the Supervisor's, with the problems.
func (b watchedBackend) Snapshot() []control.Item { return b.resources(b.w.problemList()) }

// listen serves the control API on a new socket. w.mu is held or the loop
// not started.
func (w *stateWatch) listen() error {
	srv, err := control.Listen(w.dir, watchedBackend{w.s, w}, control.Options{Logf: w.s.out.logf})
	if err != nil {
		return err
	}
	w.srv = srv
	return nil
}

// start checks the state directory every interval until Close.
func (w *stateWatch) start(interval time.Duration) {
	w.interval = interval
	w.done = make(chan struct{})
	go func() {
		defer close(w.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
				w.check()
			}
		}
	}()
}

// Close stops the watch and the control API, and releases the lock if the
// watch took it again (the supervisor releases the first one).
func (w *stateWatch) Close() error {
	close(w.stop)
	if w.done != nil {
		<-w.done
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var errs []error
	if w.srv != nil {
		errs = append(errs, w.srv.Close())
		w.srv = nil
	}
	if w.retaken && w.lock != nil {
		errs = append(errs, w.lock.Close())
		w.lock = nil
	}
	if w.binary != nil {
		errs = append(errs, w.binary.Close())
		w.binary = nil
	}
	return errors.Join(errs...)
}

func (w *stateWatch) problemList() []string {
	w.pmu.Lock()
	defer w.pmu.Unlock()
	return append([]string(nil), w.problems...)
}

// problem says msg in the supervisor's output and keeps it for Status.
// w.mu is held.
func (w *stateWatch) problem(msg string) {
	w.s.out.logf("%s", msg)
	w.pmu.Lock()
	defer w.pmu.Unlock()
	w.problems = append(w.problems, time.Now().Format("15:04:05")+" "+msg)
	if len(w.problems) > maxProblems {
		w.problems = w.problems[len(w.problems)-maxProblems:]
	}
	w.s.notifyChange()
}

// failed reports a failure to repair, unless it is the one reported last.
// w.mu is held.
func (w *stateWatch) failed(msg string) {
	if msg != w.failure {
		w.failure = msg
		w.problem(msg)
	}
}

// check finds what is missing from the state directory and repairs it.
func (w *stateWatch) check() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.holdsLock() {
		if w.lock != nil {
			w.problem(fmt.Sprintf("the state directory %s was removed, or its lock file replaced, while %s runs: `pilotage` commands cannot reach it; recreating it", w.dir, w.s.opts.App))
			if w.retaken {
				_ = w.lock.Close() // it locks a removed file
			}
			w.lock, w.retaken = nil, false
		}
		if !w.relock() {
			return
		}
		w.repair("the lock")
		return
	}
	w.repair()
}

// holdsLock reports whether the lock file in the state directory is the
// one the supervisor holds.
func (w *stateWatch) holdsLock() bool {
	if w.lock == nil {
		return false
	}
	held, err := w.lock.Stat()
	if err != nil {
		return false
	}
	fi, err := os.Stat(filepath.Join(w.dir, state.LockName))
	return err == nil && os.SameFile(fi, held)
}

// relock recreates the state directory and takes its lock again, unless
// another supervisor holds it. w.mu is held.
func (w *stateWatch) relock() bool {
	if err := state.PrepareDir(w.dir); err != nil {
		w.failed(fmt.Sprintf("cannot recreate the state directory: %v", err))
		return false
	}
	pid, running, err := state.Probe(w.dir)
	if err != nil {
		w.failed(fmt.Sprintf("cannot check the lock of %s: %v", w.dir, err))
		return false
	}
	if running {
		if pid != w.other {
			w.other = pid
			w.problem(fmt.Sprintf("another supervisor (pid %d) holds the lock of %s now: this one (pid %d) keeps running %s, but `pilotage` commands reach the other; stop one of them", pid, w.dir, os.Getpid(), w.s.opts.App))
		}
		return false
	}
	lock, err := state.Lock(w.dir, w.s.opts.App)
	if err != nil {
		w.failed(fmt.Sprintf("cannot take the lock of %s again: %v", w.dir, err))
		return false
	}
	w.lock, w.retaken, w.other, w.failure = lock, true, 0, ""
	if w.srv != nil {
		// Its socket was removed with the directory, or belonged to the
		// supervisor that held the lock meanwhile: serve on a new one.
		_ = w.srv.Close() // it closes connections; only its socket's removal may fail
		w.srv = nil
	}
	return true
}

// repair recreates whatever is missing from the state directory, whose
// lock is held, and says what it did, after what was done already.
// w.mu is held.
func (w *stateWatch) repair(done ...string) {
	redone := done
	if w.info != nil && missing(filepath.Join(w.dir, state.AppFile)) {
		if err := state.WriteAppInfo(w.dir, *w.info); err != nil {
			w.failed(fmt.Sprintf("cannot recreate %s: %v", state.AppFile, err))
		} else {
			redone = append(redone, state.AppFile)
		}
	}
	if w.binary != nil && missing(w.s.opts.Binary) {
		if err := restoreFile(w.s.opts.Binary, w.binary); err != nil {
			w.failed(fmt.Sprintf("cannot recreate the app's binary: %v", err))
		} else {
			redone = append(redone, "the app's binary")
		}
	}
	if w.srv == nil || missing(filepath.Join(w.dir, control.SocketName)) {
		if w.srv != nil {
			_ = w.srv.Close() // its socket is gone already
			w.srv = nil
		}
		if err := w.listen(); err != nil {
			w.failed(fmt.Sprintf("cannot serve the control API again: %v", err))
		} else {
			redone = append(redone, "the control socket")
		}
	}
	socks := w.s.sockDir()
	sockDirGone := missing(socks)
	if sockDirGone {
		if err := state.PrepareDir(socks); err != nil {
			w.failed(fmt.Sprintf("cannot recreate the replicas' sockets directory: %v", err))
		} else {
			redone = append(redone, "the sockets directory")
		}
	}
	if r, ok := w.s.opts.Logs.(reopener); ok && missing(r.Dir()) {
		if err := r.Reopen(); err != nil {
			w.failed(fmt.Sprintf("cannot recreate the logs directory: %v", err))
		} else {
			redone = append(redone, "the logs directory (earlier lines are lost)")
		}
	}
	if len(redone) == 0 {
		return
	}
	msg := fmt.Sprintf("recreated in %s: %s", w.dir, joinList(redone))
	if sockDirGone {
		msg += "; replicas started before keep their open connections but cannot be dialed until they restart"
	}
	w.problem(msg)
}

// restoreFile writes the content and mode of the open file src to path,
// whose directory it creates if needed.
func restoreFile(path string, src *os.File) error {
	fi, err := src.Stat()
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = io.Copy(tmp, io.NewSectionReader(src, 0, fi.Size()))
	if err == nil {
		err = tmp.Chmod(fi.Mode().Perm())
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// missing reports whether nothing is at path.
func missing(path string) bool {
	_, err := os.Lstat(path)
	return errors.Is(err, os.ErrNotExist)
}

// joinList joins items as "a, b and c".
func joinList(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	out := ""
	for i, it := range items[:len(items)-1] {
		if i > 0 {
			out += ", "
		}
		out += it
	}
	return out + " and " + items[len(items)-1]
}
