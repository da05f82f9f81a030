package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// AppFile is the file of a state directory that says which app it belongs
// to and where the app came from.
const AppFile = "app.json"

// AppInfo is the content of AppFile, written by "pilotage run" once it holds
// the lock.
type AppInfo struct {
	Name    string    `json:"name"`
	Dir     string    `json:"dir,omitempty"`    // the source directory it was built from; empty when run from a binary
	Binary  string    `json:"binary,omitempty"` // the binary it was run from; empty when built from Dir
	Config  string    `json:"config,omitempty"` // its configuration file, if any
	PID     int       `json:"pid"`              // the supervisor's
	Started time.Time `json:"started"`
}

// WriteAppInfo writes info into state directory dir, replacing the file
// atomically; a zero PID or Started is set to this process's pid and the
// current time.
func WriteAppInfo(dir string, info AppInfo) error {
	if info.PID == 0 {
		info.PID = os.Getpid()
	}
	if info.Started.IsZero() {
		info.Started = time.Now()
	}
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", AppFile, err)
	}
	tmp, err := os.CreateTemp(dir, AppFile+".*")
	if err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	_, err = tmp.Write(append(b, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, AppFile))
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("state directory: %w", err)
	}
	return nil
}

// ReadAppInfo reads the AppFile of state directory dir. A missing file
// (a directory of an earlier release) is an error satisfying
// errors.Is(err, fs.ErrNotExist).
func ReadAppInfo(dir string) (AppInfo, error) {
	path := filepath.Join(dir, AppFile)
	var info AppInfo
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return info, err
		}
		return info, stateDirError(dir, path, err)
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return info, fmt.Errorf("%s: %w", path, err)
	}
	return info, nil
}

// An App is an application with a state directory.
type App struct {
	ID       string  // the name of its state directory: "shop-1a2b3c4d", or "shop" for one made by an earlier release
	StateDir string  // its state directory
	Info     AppInfo // from AppFile; Name is always set, the rest may be zero
	PID      int     // the supervisor's, if Running
	Running  bool
	Err      error // why the directory could not be examined (permission denied), if it could not
}

// State describes in a few words whether a is running.
func (a *App) State() string {
	switch {
	case a.Err != nil:
		return "unknown (cannot be read)"
	case a.Running:
		return fmt.Sprintf("running (pid %d)", a.PID)
	}
	return "stopped"
}

// Source says where a came from: its source directory or binary, or "-"
// if its directory does not say (made by an earlier release).
func (a *App) Source() string {
	switch {
	case a.Info.Dir != "":
		return a.Info.Dir
	case a.Info.Binary != "":
		return "binary " + a.Info.Binary
	}
	return "-"
}

// idSuffix is the hash AppID appends to the name.
var idSuffix = regexp.MustCompile(`-[0-9a-f]{8}$`)

// readApp examines the state directory dir of the app with id.
func readApp(dir, id string) App {
	a := App{ID: id, StateDir: dir}
	info, err := ReadAppInfo(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		a.Err = err
	}
	a.Info = info
	if a.PID, a.Running, err = Probe(dir); err != nil && a.Err == nil {
		a.Err = err
	}
	if a.Info.Name == "" {
		if _, holder := readHolder(dir); holder != "" {
			a.Info.Name = holder
		} else {
			a.Info.Name = idSuffix.ReplaceAllString(id, "")
		}
	}
	return a
}

// Apps lists the apps with a state directory under root, sorted by ID. A
// missing root means none.
func Apps(root string) ([]App, error) {
	ents, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, stateDirError(root, root, err)
	}
	var apps []App
	for _, e := range ents {
		if e.IsDir() {
			apps = append(apps, readApp(filepath.Join(root, e.Name()), e.Name()))
		}
	}
	sort.Slice(apps, func(i, j int) bool { return apps[i].ID < apps[j].ID })
	return apps, nil
}

// A Query says which app a command means.
type Query struct {
	App     string // the app named on the command line, by name or ID; empty if none
	Cwd     string // the current directory; empty to ignore it
	Stopped bool   // an app that is not running will do (its logs)
}

// Find returns the app q means. $PILOTAGE_STATE_DIR, if set, holds the only
// app there is. Otherwise, among the apps under StateRoot, or those named
// q.App (by name or ID) if set: the app whose source directory holds
// q.Cwd; else the only running one; else, with q.Stopped, the only one.
// Without q.Stopped, the app found must be running. When several apps
// fit, the error is an *AmbiguousError listing them.
func Find(q Query) (*App, error) {
	if d := os.Getenv(StateDirEnv); d != "" {
		return findIn(d, q)
	}
	root, err := StateRoot()
	if err != nil {
		return nil, err
	}
	apps, err := Apps(root)
	if err != nil {
		return nil, err
	}
	cands := apps
	if q.App != "" {
		cands = filterApps(apps, func(a *App) bool { return a.ID == q.App || a.Info.Name == q.App })
		if len(cands) == 0 {
			return nil, noSuchApp(q, root, apps)
		}
	}
	here := inDir(cands, q.Cwd)
	if len(here) > 0 {
		cands = here
	}
	running := filterApps(cands, func(a *App) bool { return a.Running })
	switch {
	case q.Stopped && len(cands) == 0:
		return nil, fmt.Errorf("no app state in %s (has an app been started with `pilotage run`?)", root)
	case !q.Stopped && len(running) == 0:
		return nil, notRunning(q, here, cands, apps)
	case !q.Stopped:
		cands = running
	case len(cands) > 1 && len(running) == 1:
		cands = running
	}
	if len(cands) > 1 {
		return nil, &AmbiguousError{Running: !q.Stopped, Apps: cands}
	}
	a := &cands[0]
	if a.Err != nil {
		return nil, a.Err
	}
	return a, nil
}

// findIn is Find when $PILOTAGE_STATE_DIR names the state directory dir.
func findIn(dir string, q Query) (*App, error) {
	a := readApp(dir, filepath.Base(dir))
	if a.Err != nil {
		return nil, a.Err
	}
	if q.Stopped {
		return &a, nil // the logs there, whatever the app
	}
	if !a.Running {
		if q.App != "" {
			return nil, fmt.Errorf("app %s is not running (no supervisor holds %s)", q.App, filepath.Join(dir, LockName))
		}
		return nil, fmt.Errorf("no app is running in $%s=%s", StateDirEnv, dir)
	}
	if q.App != "" && q.App != a.Info.Name && q.App != a.ID {
		return nil, fmt.Errorf("app %s is not running in %s: app %s is ($%s is set)", q.App, dir, a.Info.Name, StateDirEnv)
	}
	return &a, nil
}

// noSuchApp is the error of Find when no app is named q.App.
func noSuchApp(q Query, root string, apps []App) error {
	if !q.Stopped {
		running := filterApps(apps, func(a *App) bool { return a.Running })
		if len(running) == 0 {
			return fmt.Errorf("app %s is not running, and no other app is", q.App)
		}
		return fmt.Errorf("app %s is not running; these are:\n%s", q.App, appTable(running))
	}
	if len(apps) == 0 {
		return fmt.Errorf("no app %s has state in %s (has it been started with `pilotage run`?)", q.App, root)
	}
	return fmt.Errorf("no app %s has state in %s; these do:\n%s", q.App, root, appTable(apps))
}

// notRunning is the error of Find when none of cands (which are here, the
// apps of the current directory, if that is not empty) is running.
func notRunning(q Query, here, cands, apps []App) error {
	var denied []error
	for _, a := range cands {
		if a.Err != nil {
			denied = append(denied, a.Err)
		}
	}
	if len(denied) > 0 { // it may be running, as another user
		return errors.Join(denied...)
	}
	others := filterApps(apps, func(a *App) bool { return a.Running })
	switch {
	case len(here) > 0 && len(others) > 0:
		return fmt.Errorf("app %s of the current directory (%s) is not running; these are (name one):\n%s",
			here[0].ID, here[0].Source(), appTable(others))
	case len(here) > 0:
		return fmt.Errorf("app %s of the current directory (%s) is not running (start it with `pilotage run`)", here[0].ID, here[0].Source())
	case q.App != "" && len(others) > 0:
		return fmt.Errorf("app %s is not running; these are:\n%s", q.App, appTable(others))
	case q.App != "":
		return fmt.Errorf("app %s is not running (start it with `pilotage run`)", q.App)
	}
	return errors.New("no app is running (start one with `pilotage run`)")
}

// inDir returns the apps of cands whose source directory holds dir: the
// deepest such directory, if apps nest.
func inDir(cands []App, dir string) []App {
	if dir == "" {
		return nil
	}
	dir = realPath(dir)
	var out []App
	best := -1
	for _, a := range cands {
		if a.Info.Dir == "" {
			continue
		}
		src := realPath(a.Info.Dir)
		if dir != src && !strings.HasPrefix(dir, strings.TrimSuffix(src, string(filepath.Separator))+string(filepath.Separator)) {
			continue
		}
		switch {
		case len(src) > best:
			best, out = len(src), []App{a}
		case len(src) == best:
			out = append(out, a)
		}
	}
	return out
}

func filterApps(apps []App, keep func(*App) bool) []App {
	var out []App
	for i := range apps {
		if keep(&apps[i]) {
			out = append(out, apps[i])
		}
	}
	return out
}

// An AmbiguousError is the error of Find when several apps fit.
type AmbiguousError struct {
	Running bool  // only running apps were considered
	Apps    []App // those that fit
}

func (e *AmbiguousError) Error() string {
	what := "have state"
	if e.Running {
		what = "are running"
	}
	return fmt.Sprintf("%d apps %s; name one (by its ID where names repeat), or run the command inside its source directory:\n%s",
		len(e.Apps), what, appTable(e.Apps))
}

// appTable lists apps one per line, with their ID, name, state and source.
func appTable(apps []App) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  ID\tNAME\tSTATE\tSOURCE")
	for i := range apps {
		a := &apps[i]
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", a.ID, a.Info.Name, a.State(), a.Source())
	}
	tw.Flush()
	return strings.TrimSuffix(b.String(), "\n")
}
