package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Calls holds the [calls] section: the policies of calls between
// processes (under "pilotage run" and on Kubernetes; calls within a
// process are plain function calls, which no policy touches). Every key
// is optional.
//
//	[calls]
//	timeout = "30s"          # deadline of a call whose context has none
//	max_in_flight = 0        # per component and replica; 0: adaptive, -1: none
//	retry_ratio = 0.1        # retries per call a caller may make to a component
//	retry_floor = 10         # retries a second it may make whatever its calls
//	eject_after = 5          # consecutive failures or timeouts eject a replica; -1: never
//
//	[calls.components."catalog.Catalog"]   # or the full name
//	timeout = "5s"
//	max_in_flight = 200
//	methods = { List = "10s" }             # per-method timeouts
type Calls struct {
	Timeout     Duration                  `toml:"timeout"`
	MaxInFlight int                       `toml:"max_in_flight"`
	RetryRatio  float64                   `toml:"retry_ratio"`
	RetryFloor  float64                   `toml:"retry_floor"`
	EjectAfter  int                       `toml:"eject_after"`
	Components  map[string]CallsComponent `toml:"components"`
}

// CallsComponent holds [calls.components.NAME]: one callee's settings.
type CallsComponent struct {
	Timeout     Duration            `toml:"timeout"`
	MaxInFlight int                 `toml:"max_in_flight"`
	Methods     map[string]Duration `toml:"methods"` // method name -> timeout
}

// DefaultCallTimeout is the deadline of a call whose context has none
// and whose method, component and [calls] set none: long enough for any
// request a user waits for, short enough that a hung callee does not hold
// its caller's goroutines and memory forever.
const DefaultCallTimeout = 30 * time.Second

// CallTimeout returns the default deadline of calls to method of
// component (its full name): the method's, else the component's, else
// [calls] timeout, else DefaultCallTimeout.
func (f *File) CallTimeout(component, method string) time.Duration {
	if c, ok := f.callsComponent(component); ok {
		if d, ok := c.Methods[method]; ok {
			return d.Duration
		}
		if c.Timeout.Duration > 0 {
			return c.Timeout.Duration
		}
	}
	if f.Calls.Timeout.Duration > 0 {
		return f.Calls.Timeout.Duration
	}
	return DefaultCallTimeout
}

// MaxInFlight returns the limit of calls in flight to component on one
// replica: the component's, else [calls] max_in_flight; 0 means adaptive,
// negative no limit.
func (f *File) MaxInFlight(component string) int {
	if c, ok := f.callsComponent(component); ok && c.MaxInFlight != 0 {
		return c.MaxInFlight
	}
	return f.Calls.MaxInFlight
}

// callsComponent returns the [calls.components] section of component,
// keyed by its full or short name.
func (f *File) callsComponent(fullName string) (CallsComponent, bool) {
	if c, ok := f.Calls.Components[fullName]; ok {
		return c, true
	}
	c, ok := f.Calls.Components[shortName(fullName)]
	return c, ok
}

// validateCalls reports values of [calls] out of range.
func (f *File) validateCalls(bad func(key []string, format string, args ...any)) {
	defined := func(key ...string) bool { return f.meta.IsDefined(key...) }
	c := f.Calls
	if defined("calls", "timeout") && c.Timeout.Duration <= 0 {
		bad([]string{"calls", "timeout"}, "[calls] timeout = %q: want a positive duration (leave it out for the default, %s)", c.Timeout.Duration, DefaultCallTimeout)
	}
	if c.MaxInFlight < -1 {
		bad([]string{"calls", "max_in_flight"}, "[calls] max_in_flight = %d: want a limit, 0 for adaptive or -1 for none", c.MaxInFlight)
	}
	if defined("calls", "retry_ratio") && (c.RetryRatio <= 0 || c.RetryRatio > 1) {
		bad([]string{"calls", "retry_ratio"}, "[calls] retry_ratio = %v: want more than 0 and at most 1", c.RetryRatio)
	}
	if defined("calls", "retry_floor") && c.RetryFloor <= 0 {
		bad([]string{"calls", "retry_floor"}, "[calls] retry_floor = %v: want a positive number of retries a second", c.RetryFloor)
	}
	if (defined("calls", "eject_after") && c.EjectAfter == 0) || c.EjectAfter < -1 {
		bad([]string{"calls", "eject_after"}, "[calls] eject_after = %d: want at least 1, or -1 to never eject", c.EjectAfter)
	}
	for _, name := range sortedKeys(c.Components) {
		cc := c.Components[name]
		section := fmt.Sprintf("[calls.components.%q]", name)
		key := []string{"calls", "components", name}
		if defined(append(key, "timeout")...) && cc.Timeout.Duration <= 0 {
			bad(append(key, "timeout"), "%s timeout = %q: want a positive duration", section, cc.Timeout.Duration)
		}
		if cc.MaxInFlight < -1 {
			bad(append(key, "max_in_flight"), "%s max_in_flight = %d: want a limit, 0 for adaptive or -1 for none", section, cc.MaxInFlight)
		}
		for _, m := range sortedKeys(cc.Methods) {
			if cc.Methods[m].Duration <= 0 {
				bad(append(key, "methods", m), "%s methods.%s = %q: want a positive duration", section, m, cc.Methods[m].Duration)
			}
		}
	}
}

// checkCallsComponents reports every [calls.components.X] that names no
// component of known (full names), or more than one.
func (f *File) checkCallsComponents(known []string) []error {
	var errs []error
	for _, key := range sortedKeys(f.Calls.Components) {
		if slices.Contains(known, key) {
			continue
		}
		var matches []string
		for _, n := range known {
			if shortName(n) == key {
				matches = append(matches, n)
			}
		}
		where := f.Where("calls", "components", key)
		switch len(matches) {
		case 1:
		case 0:
			errs = append(errs, fmt.Errorf("%s: [calls.components.%q] names no component of this application (known: %s)", where, key, strings.Join(known, ", ")))
		default:
			errs = append(errs, fmt.Errorf("%s: [calls.components.%q] names %s: use the full name", where, key, strings.Join(matches, " and ")))
		}
	}
	return errs
}

// CheckCallMethods reports every method of a [calls.components.X] methods
// table that its component does not have; methods maps the full name of
// each component to its method names.
func (f *File) CheckCallMethods(methods map[string][]string) error {
	var errs []error
	for _, full := range sortedKeys(methods) {
		c, ok := f.callsComponent(full)
		if !ok {
			continue
		}
		for _, m := range sortedKeys(c.Methods) {
			if !slices.Contains(methods[full], m) {
				errs = append(errs, fmt.Errorf("%s: [calls.components.%q] methods.%s: %s has no method %s (it has: %s)",
					f.Where("calls", "components", shortName(full), "methods", m), shortName(full), m, full, m, strings.Join(methods[full], ", ")))
			}
		}
	}
	return errors.Join(errs...)
}
