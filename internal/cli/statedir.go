package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// stateRoot returns the directory holding one state directory per app:
// $XDG_STATE_HOME/pilotage, or ~/.local/state/pilotage.
func stateRoot() (string, error) {
	if x := os.Getenv("XDG_STATE_HOME"); x != "" {
		return filepath.Join(x, "pilotage"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("locating state directory: %w", err)
	}
	return filepath.Join(home, ".local", "state", "pilotage"), nil
}

// stateDir returns the state directory of app (its logs, control socket).
// $PILOTAGE_STATE_DIR, if set, is used directly whatever the app. Otherwise
// it is <root>/<app> under stateRoot; the directory need not exist yet. If app
// is empty and exactly one app directory exists under the root, that one is
// used; otherwise the error lists the apps found.
func stateDir(app string) (string, error) {
	if d := os.Getenv("PILOTAGE_STATE_DIR"); d != "" {
		return d, nil
	}
	root, err := stateRoot()
	if err != nil {
		return "", err
	}
	if app != "" {
		if app == "." || app == ".." || strings.ContainsAny(app, `/\`) {
			return "", fmt.Errorf("bad app name %q", app)
		}
		return filepath.Join(root, app), nil
	}
	apps, err := stateApps(root)
	if err != nil {
		return "", err
	}
	switch len(apps) {
	case 0:
		return "", fmt.Errorf("no app state in %s (has an app been started with \"pilotage run\"?)", root)
	case 1:
		return filepath.Join(root, apps[0]), nil
	}
	return "", fmt.Errorf("several apps in %s, name one: %s", root, strings.Join(apps, ", "))
}

// stateApps lists the app directories under root, sorted; a missing root
// means no apps.
func stateApps(root string) ([]string, error) {
	ents, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing apps: %w", err)
	}
	var apps []string
	for _, e := range ents {
		if e.IsDir() {
			apps = append(apps, e.Name())
		}
	}
	sort.Strings(apps)
	return apps, nil
}
