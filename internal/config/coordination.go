package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Coordination holds the [coordination] section: where the app's
// coordination store (locks, leader elections, the config store of
// github.com/pilotage/pilotage/coord) is.
//
//	[coordination]
//	endpoints = ["https://etcd-0:2379", "https://etcd-1:2379"] # an external etcd cluster
//	ttl = "2s"                                                # session lease time to live
//
// Without endpoints, "pilotage run" embeds an etcd server of its own, its
// data in the app's state directory.
type Coordination struct {
	// Endpoints are client URLs of an etcd cluster: http://host:port,
	// https://host:port or unix:///path. At least one if set.
	Endpoints []string `toml:"endpoints"`
	// TTL of the session leases: a process that stops renewing its lease
	// (paused, cut off) loses its locks and leaderships within TTL. A
	// whole number of seconds (etcd's leases count seconds), at least 1s
	// if set; the default is the coordination library's (2s).
	TTL Duration `toml:"ttl"`
}

// validateCoordination reports every problem of [coordination].
func (f *File) validateCoordination() []error {
	var errs []error
	bad := func(key string, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: [coordination] %s", f.Where("coordination", key), fmt.Sprintf(format, args...)))
	}
	c := f.Coordination
	if f.meta.IsDefined("coordination", "endpoints") && len(c.Endpoints) == 0 {
		bad("endpoints", "endpoints = []: want at least one etcd endpoint (leave it out for the store pilotage run embeds)")
	}
	for i, e := range c.Endpoints {
		if err := checkEndpoint(e); err != nil {
			bad("endpoints", "endpoints[%d] = %q: %v", i, e, err)
		} else if slices.Index(c.Endpoints, e) < i {
			bad("endpoints", "endpoints[%d] = %q: named twice", i, e)
		}
	}
	if f.meta.IsDefined("coordination", "ttl") {
		switch d := c.TTL.Duration; {
		case d < time.Second:
			bad("ttl", "ttl = %q: want at least 1s (leave it out for the default, 2s)", d)
		case d%time.Second != 0:
			bad("ttl", "ttl = %q: want a whole number of seconds (etcd's leases count seconds)", d)
		}
	}
	return errs
}

// checkEndpoint checks that e is an etcd client URL.
func checkEndpoint(e string) error {
	const want = "want http://host:port, https://host:port or unix:///path"
	u, err := url.Parse(e)
	if err != nil || !strings.Contains(e, "://") {
		return fmt.Errorf("not a URL: %s", want)
	}
	switch u.Scheme {
	case "http", "https":
		if u.Port() == "" || u.Hostname() == "" || strings.Trim(u.Path, "/") != "" {
			return fmt.Errorf("%s", want)
		}
	case "unix", "unixs":
		if !strings.HasPrefix(u.Host+u.Path, "/") {
			return fmt.Errorf("want an absolute socket path: unix:///path")
		}
	default:
		return fmt.Errorf("scheme %q: %s", u.Scheme, want)
	}
	return nil
}
