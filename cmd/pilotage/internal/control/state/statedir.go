package state

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// StateDirEnv overrides the state directory of every application.
const StateDirEnv = "PILOTAGE_STATE_DIR"

// LockName is the file of a state directory that its supervisor holds
// locked (flock) while it runs, holding "pid app".
const LockName = "lock"

// StateRoot returns the directory holding the state directories of all
// applications: $XDG_STATE_HOME/pilotage, else ~/.local/state/pilotage.
func StateRoot() (string, error) {
	if x := os.Getenv("XDG_STATE_HOME"); x != "" {
		return filepath.Join(x, "pilotage"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("state directory: %w", err)
	}
	return filepath.Join(home, ".local", "state", "pilotage"), nil
}

// StateDir returns the state directory of the app named app that runs from
// source (its source directory, or its binary when run from one):
// $PILOTAGE_STATE_DIR if set, else <StateRoot>/<AppID(app, source)>.
func StateDir(app, source string) (string, error) {
	if d := os.Getenv(StateDirEnv); d != "" {
		return d, nil
	}
	root, err := StateRoot()
	if err != nil {
		return "", err
	}
	id, err := AppID(app, source)
	if err != nil {
		return "", err
	}
	return filepath.Join(root, id), nil
}

// AppID returns the name of the state directory of app run from source:
// the app's name, a dash and 8 hex digits of the SHA-256 of source's
// absolute path, with symbolic links resolved ("shop-1a2b3c4d"). Two
// checkouts of one app thus keep their logs and control sockets apart,
// and the name stays readable.
func AppID(app, source string) (string, error) {
	if app == "" || strings.ContainsAny(app, `/\`) || app == "." || app == ".." {
		return "", fmt.Errorf("bad app name %q", app)
	}
	if source == "" {
		return "", fmt.Errorf("app %s: no source directory or binary", app)
	}
	abs, err := filepath.Abs(source)
	if err != nil {
		return "", fmt.Errorf("app %s: %w", app, err)
	}
	sum := sha256.Sum256([]byte(realPath(abs)))
	return app + "-" + hex.EncodeToString(sum[:4]), nil
}

// realPath returns abs with symbolic links resolved, or abs itself if it
// cannot be resolved (it need not exist).
func realPath(abs string) string {
	if p, err := filepath.EvalSymlinks(abs); err == nil {
		return p
	}
	return abs
}

// Running reports whether a supervisor holds the lock of dir, and its pid.
// A lock that cannot be checked counts as not running; Probe says why.
func Running(dir string) (pid int, ok bool) {
	pid, ok, _ = Probe(dir)
	return pid, ok
}

// Probe reports whether a supervisor holds the lock of dir, and its pid. A
// missing directory or lock file means none does; any other failure to
// check is returned: when permission is denied, the error says who owns
// what was denied (errors.Is(err, fs.ErrPermission) holds).
func Probe(dir string) (pid int, running bool, err error) {
	path := filepath.Join(dir, LockName)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, stateDirError(dir, path, err)
	}
	defer f.Close()
	// A shared lock held for an instant: Lock retries while it sees one.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err == nil {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return 0, false, nil
	} else if !errors.Is(err, syscall.EWOULDBLOCK) {
		return 0, false, fmt.Errorf("state directory %s: lock: %w", dir, err)
	}
	pid, _ = parseHolder(f)
	return pid, true, nil
}

// stateDirError wraps err, met on path inside state directory dir; a
// permission error says who owns path (or dir, if path cannot be seen).
func stateDirError(dir, path string, err error) error {
	if !errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("state directory %s: %w", dir, err)
	}
	return &permissionError{msg: fmt.Sprintf("state directory %s: permission denied: %s", dir, WhyDenied(path, dir)), err: err}
}

// WhyDenied explains a permission denied on path, inside state directory
// dir: who owns it, or, if the user does, its mode. If path cannot be
// examined, dir is.
func WhyDenied(path, dir string) string {
	fi, err := os.Lstat(path)
	if err != nil {
		if fi, err = os.Lstat(dir); err != nil {
			return "you cannot read it"
		}
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Sprintf("its mode is %v", fi.Mode())
	}
	if int(st.Uid) != os.Getuid() {
		return fmt.Sprintf("it belongs to uid %d (you are uid %d)", st.Uid, os.Getuid())
	}
	return fmt.Sprintf("%s has mode %v", fi.Name(), fi.Mode())
}

// permissionError is a permission denied in a state directory, explained.
type permissionError struct {
	msg string
	err error
}

func (e *permissionError) Error() string { return e.msg }
func (e *permissionError) Unwrap() error { return e.err }

// readHolder returns the pid and app written in the lock file of dir.
func readHolder(dir string) (pid int, app string) {
	f, err := os.Open(filepath.Join(dir, LockName))
	if err != nil {
		return 0, ""
	}
	defer f.Close()
	return parseHolder(f)
}

// parseHolder parses a lock file: "pid app\n" (or "pid\n", as written by
// older releases).
func parseHolder(f *os.File) (pid int, app string) {
	b := make([]byte, 512)
	n, _ := f.ReadAt(b, 0)
	fields := strings.Fields(string(b[:n]))
	if len(fields) == 0 {
		return 0, ""
	}
	pid, _ = strconv.Atoi(fields[0])
	if len(fields) > 1 {
		app = fields[1]
	}
	return pid, app
}

// lockRetry is how long Lock retries while another process holds the lock,
// which may be the instant shared lock of Running.
const lockRetry = 250 * time.Millisecond

// Lock takes the single-instance lock of app's state directory dir and
// writes this process's pid and app in it. It creates dir (mode 0700) if
// it does not exist; an existing dir must belong to the user and not be
// writable by others, and is left as it is. The lock lasts until the
// returned file is closed or the process dies.
func Lock(dir, app string) (*os.File, error) {
	if err := PrepareDir(dir); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, LockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	deadline := time.Now().Add(lockRetry)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		pid, holder := parseHolder(f)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			if holder != "" && holder != app {
				return nil, fmt.Errorf("state directory %s is in use by app %s (pid %d); stop it with Ctrl-C in its terminal or `kill %d`, or use another $%s", dir, holder, pid, pid, StateDirEnv)
			}
			return nil, fmt.Errorf("app %s is already running (pid %d); stop it with Ctrl-C in its terminal or `kill %d`", app, pid, pid)
		}
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock: %w", err)
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+" "+app+"\n"), 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock: %w", err)
	}
	return f, nil
}

// PrepareDir makes sure dir can hold pilotage's private files: it creates
// it with mode 0700 (and its missing parents) if it does not exist; if it
// does, it must be a directory of the user's that others cannot write to.
// It never changes an existing directory.
func PrepareDir(dir string) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("state directory: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		if fi, err = os.Stat(dir); err != nil {
			return fmt.Errorf("state directory: %w", err)
		}
	}
	if !fi.IsDir() {
		return fmt.Errorf("state directory %s is not a directory", dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("state directory %s belongs to uid %d, not to you (uid %d)", dir, st.Uid, os.Getuid())
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("state directory %s is writable by others (mode %v): pilotage keeps its control socket there; use a private directory", dir, fi.Mode().Perm())
	}
	return nil
}
