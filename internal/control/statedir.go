package control

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// StateDirEnv overrides the state directory of every application.
const StateDirEnv = "PILOTAGE_STATE_DIR"

// File names inside a state directory.
const (
	SocketName = "control.sock"
	LockName   = "lock"
)

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

// StateDir returns the state directory of app: $PILOTAGE_STATE_DIR if set,
// else <StateRoot>/<app>.
func StateDir(app string) (string, error) {
	if d := os.Getenv(StateDirEnv); d != "" {
		return d, nil
	}
	root, err := StateRoot()
	if err != nil {
		return "", err
	}
	if app == "" || strings.ContainsAny(app, `/\`) || app == "." || app == ".." {
		return "", fmt.Errorf("bad app name %q", app)
	}
	return filepath.Join(root, app), nil
}

// FindStateDir returns the state directory of the running app named app, or,
// if app is empty, of the only running app.
func FindStateDir(app string) (string, error) {
	if app != "" {
		dir, err := StateDir(app)
		if err != nil {
			return "", err
		}
		if _, ok := Running(dir); !ok {
			return "", fmt.Errorf("app %s is not running (no supervisor holds %s)", app, filepath.Join(dir, LockName))
		}
		if _, holder := readHolder(dir); holder != "" && holder != app {
			return "", fmt.Errorf("app %s is not running in %s: app %s is ($%s is set)", app, dir, holder, StateDirEnv)
		}
		return dir, nil
	}
	if d := os.Getenv(StateDirEnv); d != "" {
		if _, ok := Running(d); !ok {
			return "", fmt.Errorf("no app is running in $%s=%s", StateDirEnv, d)
		}
		return d, nil
	}
	root, err := StateRoot()
	if err != nil {
		return "", err
	}
	apps, err := RunningApps(root)
	if err != nil {
		return "", err
	}
	switch len(apps) {
	case 0:
		return "", errors.New("no app is running (start one with `pilotage run`)")
	case 1:
		return filepath.Join(root, apps[0]), nil
	}
	return "", fmt.Errorf("%d apps are running (%s): name one", len(apps), strings.Join(apps, ", "))
}

// RunningApps lists the apps under root whose supervisor is alive.
func RunningApps(root string) ([]string, error) {
	socks, err := filepath.Glob(filepath.Join(root, "*", SocketName))
	if err != nil {
		return nil, fmt.Errorf("list apps: %w", err)
	}
	var apps []string
	for _, s := range socks {
		dir := filepath.Dir(s)
		if _, ok := Running(dir); ok {
			apps = append(apps, filepath.Base(dir))
		}
	}
	sort.Strings(apps)
	return apps, nil
}

// Running reports whether a supervisor holds the lock of dir, and its pid.
func Running(dir string) (pid int, ok bool) {
	f, err := os.Open(filepath.Join(dir, LockName))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	// A shared lock held for an instant: Lock retries while it sees one.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err == nil {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return 0, false
	}
	pid, _ = parseHolder(f)
	return pid, true
}

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
