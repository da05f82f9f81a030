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
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err == nil {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return 0, false
	}
	return readPID(f), true
}

func readPID(f *os.File) int {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	return pid
}

// Lock takes the single-instance lock of app's state directory dir
// (creating dir with mode 0700) and writes this process's pid in it. The
// lock lasts until the returned file is closed or the process dies.
func Lock(dir, app string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, LockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		pid := readPID(f)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("app %s is already running (pid %d); stop it with Ctrl-C in its terminal or `kill %d`", app, pid, pid)
		}
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock: %w", err)
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock: %w", err)
	}
	return f, nil
}
