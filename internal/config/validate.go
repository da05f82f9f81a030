package config

import (
	"fmt"
	"net"
	"regexp"
	"strings"
)

// appName is what an application may be called: the name becomes a
// directory name (the state directory) and a path element of the tree the
// control API serves (/apps/<app>).
var appName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// CheckAppName reports whether name can name an application: 1 to 63
// letters, digits, '.', '_' or '-', starting with a letter or digit. Parse
// checks [app] name with it; a name derived from a directory or binary
// must be checked by whoever derives it.
func CheckAppName(name string) error {
	if !appName.MatchString(name) {
		return fmt.Errorf("app name %q is not valid: use 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}

// validate reports every value that would otherwise be silently
// reinterpreted or found wrong only when used. It runs once decoding
// succeeded, so the fields hold what the file says; a zero field whose
// key is absent means "not set".
func (f *File) validate() []error {
	var errs []error
	bad := func(key []string, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", f.Where(key...), fmt.Sprintf(format, args...)))
	}
	defined := func(key ...string) bool { return f.meta.IsDefined(key...) }
	atLeastOne := func(key []string, section string, v int) {
		if defined(key...) && v < 1 {
			bad(key, "%s %s = %d: want at least 1 (leave it out for the default)", section, key[len(key)-1], v)
		}
	}
	positive := func(key []string, section string, d Duration) {
		if defined(key...) && d.Duration <= 0 {
			bad(key, "%s %s = %q: want a positive duration (leave it out for the default)", section, key[len(key)-1], d.Duration)
		}
	}

	if defined("app", "name") {
		if err := CheckAppName(f.App.Name); err != nil {
			bad([]string{"app", "name"}, "%v", err)
		}
	}
	for _, name := range sortedKeys(f.Listeners) {
		l := f.Listeners[name]
		if a := l.Address; a != "" {
			if _, _, err := net.SplitHostPort(a); err != nil {
				bad([]string{"listeners", name, "address"}, "[listeners.%s] address = %q: want host:port (%v)", name, a, err)
			}
		}
		section := fmt.Sprintf("[listeners.%s]", name)
		atLeastOne([]string{"listeners", name, "max_connections"}, section, l.MaxConnections)
		positive([]string{"listeners", name, "idle_timeout"}, section, l.IdleTimeout)
	}

	run := f.Run
	atLeastOne([]string{"run", "replicas"}, "[run]", run.Replicas)
	atLeastOne([]string{"run", "start_limit"}, "[run]", run.StartLimit)
	positive([]string{"run", "start_interval"}, "[run]", run.StartInterval)
	positive([]string{"run", "restart_cooldown"}, "[run]", run.RestartCooldown)
	for _, name := range sortedKeys(run.Components) {
		atLeastOne([]string{"run", "components", name, "replicas"}, fmt.Sprintf("[run.components.%q]", name), run.Components[name].Replicas)
	}

	for _, name := range sortedKeys(f.Units) {
		u := f.Units[name]
		section := fmt.Sprintf("[units.%s]", name)
		if u.Command == "" {
			bad([]string{"units", name}, "%s: command is required", section)
		}
		switch u.Restart {
		case "", "on-failure", "always", "no":
		default:
			bad([]string{"units", name, "restart"}, "%s restart = %q: want on-failure, always or no", section, u.Restart)
		}
		for i, kv := range u.Env {
			if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
				bad([]string{"units", name, "env"}, "%s env[%d] = %q: want KEY=value", section, i, kv)
			}
		}
		ready := []string{"units", name, "ready"}
		section = fmt.Sprintf("[units.%s.ready]", name)
		positive(append(ready, "interval"), section, u.Ready.Interval)
		positive(append(ready, "timeout"), section, u.Ready.Timeout)
		if u.Ready.TCP == "" && u.Ready.HTTP == "" && len(u.Ready.Exec) == 0 && (defined(append(ready, "interval")...) || defined(append(ready, "timeout")...)) {
			bad(ready, "%s: interval and timeout need a probe: tcp, http or exec", section)
		}
	}
	f.validateCalls(bad)
	errs = append(errs, f.validateCoordination()...)
	errs = append(errs, f.validateTelemetry()...)
	return append(errs, f.validateKube()...)
}
