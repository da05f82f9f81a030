package cli

import (
	"context"
	"os"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/state"
)

// appLookupHelp says how a command finds the app, for its help text;
// orStopped is how it falls back when no app runs ("" for none).
func appLookupHelp(orStopped string) string {
	return `The app is named by its name or, where two apps share one, by its ID
("shop-1a2b3c4d", as listed when several apps fit). Without one, it is the
app whose source directory holds the current directory, else the only app
running` + orStopped + `.
$PILOTAGE_STATE_DIR, if set, holds the only app there is.`
}

// findApp returns the app a command means (see state.Find): named app
// (by name or ID), else the app of the current directory, else the only
// one running, else, if stopped is set, the only one with state.
func findApp(app string, stopped bool) (*state.App, error) {
	// Without a current directory (it was removed), the other rules apply.
	cwd, _ := os.Getwd()
	return state.Find(state.Query{App: app, Cwd: cwd, Stopped: stopped})
}

// dialApp connects to the supervisor of the running app that app names
// (see findApp).
func dialApp(app string) (*control.Client, error) {
	a, err := findApp(app, false)
	if err != nil {
		return nil, err
	}
	return control.Dial(a.StateDir), nil
}

// withApp dials the supervisor of app and runs f with a client and a
// context bounded by timeout.
func withApp(app string, timeout time.Duration, f func(ctx context.Context, c *control.Client) error) error {
	c, err := dialApp(app)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return f(ctx, c)
}

// optionalApp returns the app of the arguments "[app]".
func optionalApp(args []string) (string, error) {
	switch len(args) {
	case 0:
		return "", nil
	case 1:
		return args[0], nil
	}
	return "", errUsage
}

// appAndName returns the app and the name of the arguments "[app] name".
func appAndName(args []string) (app, name string, err error) {
	switch len(args) {
	case 1:
		return "", args[0], nil
	case 2:
		return args[0], args[1], nil
	}
	return "", "", errUsage
}

// isApp reports whether name is the name or ID of an app with state.
func isApp(name string) (bool, error) {
	root, err := state.StateRoot()
	if err != nil {
		return false, err
	}
	apps, err := state.Apps(root)
	if err != nil {
		return false, err
	}
	for _, a := range apps {
		if a.ID == name || a.Info.Name == name {
			return true, nil
		}
	}
	return false, nil
}
