package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pilotage/pilotage/internal/control"
)

// stateDir returns the state directory of app (its logs, control socket),
// running or not: $PILOTAGE_STATE_DIR if set, whatever the app, else
// <root>/<app> with root $XDG_STATE_HOME/pilotage or ~/.local/state/pilotage
// (see control.StateDir); the directory need not exist. If app is empty and
// exactly one app directory exists under the root, that one is used;
// otherwise the error lists the apps found.
//
// Commands that talk to a running supervisor use control.FindStateDir
// instead, which only considers running apps.
func stateDir(app string) (string, error) {
	if app != "" || os.Getenv(control.StateDirEnv) != "" {
		return control.StateDir(app)
	}
	root, err := control.StateRoot()
	if err != nil {
		return "", err
	}
	apps, err := stateApps(root)
	if err != nil {
		return "", err
	}
	switch len(apps) {
	case 0:
		return "", fmt.Errorf("no app state in %s (has an app been started with `pilotage run`?)", root)
	case 1:
		return filepath.Join(root, apps[0]), nil
	}
	return "", fmt.Errorf("several apps in %s (%s): name one", root, strings.Join(apps, ", "))
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

// dialApp connects to the supervisor of the running app (the only one
// running if app is empty).
func dialApp(app string) (*control.Client, error) {
	dir, err := control.FindStateDir(app)
	if err != nil {
		return nil, err
	}
	return control.Dial(dir), nil
}
