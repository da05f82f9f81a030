package config

import (
	"fmt"
	"time"
)

// Run holds the [run] section: how "pilotage run" lays the application out
// as processes. Parse rejects values out of range, so a zero field means
// the key is absent: the default applies.
//
//	[run]
//	replicas = 2                                 # processes per group (default: see below)
//	colocate = [["cart.Cart", "catalog.Catalog"]] # components sharing a process
//	start_limit = 5                              # starts within start_interval, then failed
//	start_interval = "30s"
//	restart_cooldown = "1m"                      # then wait this long before trying again
//
//	[run.components."catalog.Catalog"]
//	replicas = 3
//	restart_dependents = true                    # like systemd PartOf=
//
// Without replicas, a group runs 2 processes, but the group of the main
// component runs 1 unless the main component has a listener: its app
// function runs once per process.
type Run struct {
	Replicas      int        `toml:"replicas"`    // at least 1 if set
	Colocate      [][]string `toml:"colocate"`    // groups of component names
	StartLimit    int        `toml:"start_limit"` // at least 1 if set
	StartInterval Duration   `toml:"start_interval"`
	// RestartCooldown is how long a replica that hit its start limit waits
	// before it is tried again; positive if set.
	RestartCooldown Duration                `toml:"restart_cooldown"`
	Components      map[string]RunComponent `toml:"components"`
}

// RunComponent holds per-component settings of [run.components.NAME].
type RunComponent struct {
	Replicas          int  `toml:"replicas"` // at least 1 if set
	RestartDependents bool `toml:"restart_dependents"`
}

// Unit is a [units.NAME] section: a program that is not a Go component (a
// database, an existing service) run and supervised like one.
//
//	[units.redis]
//	command = "redis-server"
//	args = ["--port", "6390"]
//	env = ["KEY=value"]
//	after = ["other-unit"]           # start once these are ready
//	required_by = ["cart.Cart"]      # these start once this unit is ready
//	restart = "on-failure"           # or "always", "no"
//	[units.redis.ready]
//	tcp = "127.0.0.1:6390"           # or http = "http://...", or exec = ["redis-cli", "ping"]
type Unit struct {
	Command    string   `toml:"command"`
	Args       []string `toml:"args"`
	Env        []string `toml:"env"`
	Dir        string   `toml:"dir"`
	After      []string `toml:"after"`
	RequiredBy []string `toml:"required_by"`
	Restart    string   `toml:"restart"`
	Ready      Probe    `toml:"ready"`
}

// Probe says how to tell that a unit is ready: the first of TCP, HTTP and
// Exec that is set, tried every Interval until it passes or Timeout passes.
// Interval and Timeout are positive if set, and need a probe.
type Probe struct {
	TCP      string   `toml:"tcp"`
	HTTP     string   `toml:"http"`
	Exec     []string `toml:"exec"`
	Interval Duration `toml:"interval"`
	Timeout  Duration `toml:"timeout"`
}

// Duration is a time.Duration written as a string such as "30s". Parse
// rejects durations that are not positive, so the zero Duration means "not
// set".
type Duration struct{ time.Duration }

// UnmarshalText parses a duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("bad duration %q: %w", b, err)
	}
	d.Duration = v
	return nil
}
