// Package config reads pilotage.toml, the one configuration file of an
// application. Decoding is strict: a key that nothing reads is an error, so a
// typo is reported instead of silently ignored, and so is a value that would
// otherwise be reinterpreted (replicas = 0, a negative duration). Errors say
// where the problem is, as "file:line:col: message" when the decoder knows
// the place.
//
//	[app]
//	name = "shop"
//
//	[listeners.shop]
//	address = "127.0.0.1:8080"
//
//	[components."catalog.Catalog"]   # or the full "example.com/shop/catalog.Catalog"
//	currency = "EUR"
//
//	[coordination]                   # an external etcd (see Coordination)
//	endpoints = ["https://etcd-0:2379"]
//
//	[kube]                           # pilotage deploy (see Kube)
//	registry = "ghcr.io/acme"
//
//	[calls]                          # policies of calls between processes (see Calls)
//	timeout = "30s"
//
// Parse checks what the file alone can tell; the checks that need the
// application's components (CheckComponents, CheckComponentConfigs,
// CheckListeners) are made by whoever knows them, before anything starts.
package config

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// File is a parsed configuration file. It is not safe for concurrent use:
// decoding a component's section records which keys were read.
type File struct {
	Path      string // where it was read from, for messages; empty if built in memory
	App       App
	Listeners map[string]Listener
	Run       Run
	Units     map[string]Unit
	// Coordination is the [coordination] section: the app's coordination
	// store.
	Coordination Coordination
	// Kube is the [kube] section: how "pilotage deploy" puts the app on
	// Kubernetes.
	Kube Kube
	// Calls is the [calls] section: timeouts, load shedding, outlier
	// ejection and retry budgets of calls between processes.
	Calls Calls
	// Telemetry is the [telemetry] section: traces and metrics.
	Telemetry Telemetry

	text       string // the file's text, to find where a key is
	components map[string]toml.Primitive
	meta       toml.MetaData
}

// App holds the [app] section.
type App struct {
	Name string `toml:"name"` // see CheckAppName
}

// Listener holds a [listeners.NAME] section. Under pilotage run, the
// supervisor serves the address and bounds its connections.
type Listener struct {
	Address        string   `toml:"address"`         // host:port; empty means a free loopback port
	MaxConnections int      `toml:"max_connections"` // client connections at once (pilotage run); at least 1 if set
	IdleTimeout    Duration `toml:"idle_timeout"`    // a connection idle for this long is closed (pilotage run); positive if set
}

type raw struct {
	App          App                       `toml:"app"`
	Listeners    map[string]Listener       `toml:"listeners"`
	Run          Run                       `toml:"run"`
	Units        map[string]Unit           `toml:"units"`
	Coordination Coordination              `toml:"coordination"`
	Kube         Kube                      `toml:"kube"`
	Calls        Calls                     `toml:"calls"`
	Telemetry    Telemetry                 `toml:"telemetry"`
	Components   map[string]toml.Primitive `toml:"components"`
}

// Parse parses the text of a configuration file; path is used in messages.
// It reports every problem the file alone shows: unknown keys (outside
// component sections, which CheckComponentConfigs checks) and values out of
// range.
func Parse(path, text string) (*File, error) {
	f := &File{Path: path, text: text}
	var r raw
	md, err := toml.Decode(text, &r)
	if err != nil {
		return nil, f.decodeError(md, err)
	}
	f.App, f.Listeners, f.Run, f.Units, f.Coordination, f.Kube, f.Calls, f.Telemetry, f.components, f.meta = r.App, r.Listeners, r.Run, r.Units, r.Coordination, r.Kube, r.Calls, r.Telemetry, r.Components, md
	errs := f.unknownKeys(func(k toml.Key) bool { return k[0] != "components" })
	errs = append(errs, f.validate()...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return f, nil
}

// Read parses the file at path.
func Read(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, string(b))
}

// Empty returns the configuration used when there is no file.
func Empty() *File { return &File{} }

// DecodeComponent decodes the section of the component with full name
// "import/path.Iface" into dst. The section may be keyed by the full name or
// by its last path element ("catalog.Catalog"). A missing section leaves dst
// unchanged; an unknown key is an error.
func (f *File) DecodeComponent(fullName string, dst any) error {
	key, ok := f.sectionKey(fullName)
	if !ok {
		return nil
	}
	return errors.Join(f.decodeSection(key, dst)...)
}

// decodeSection decodes [components.key] into dst and returns every
// problem: a value of the wrong type, or keys dst has no field for.
func (f *File) decodeSection(key string, dst any) []error {
	if err := f.meta.PrimitiveDecode(f.components[key], dst); err != nil {
		return []error{f.decodeError(f.meta, err)}
	}
	return f.unknownKeys(inSection(key))
}

// inSection selects the keys inside [components.key].
func inSection(key string) func(toml.Key) bool {
	return func(k toml.Key) bool { return len(k) > 2 && k[0] == "components" && k[1] == key }
}

func (f *File) sectionKey(fullName string) (string, bool) {
	if _, ok := f.components[fullName]; ok {
		return fullName, true
	}
	short := shortName(fullName)
	_, ok := f.components[short]
	return short, ok
}

// CheckComponents reports every [components.X] section that does not name
// exactly one component of known (full names): a misspelt name, a short
// name two components share, or a component given two sections (by full
// and by short name); and so for [calls.components.X].
func (f *File) CheckComponents(known []string) error {
	byShort := map[string][]string{}
	for _, n := range known {
		byShort[shortName(n)] = append(byShort[shortName(n)], n)
	}
	var errs []error
	for _, key := range f.sectionKeys() {
		where := f.Where("components", key)
		switch {
		case slices.Contains(known, key):
			if _, dup := f.components[shortName(key)]; dup && key != shortName(key) {
				errs = append(errs, fmt.Errorf("%s: [components.%q] and [components.%q] both configure %s: keep one", where, key, shortName(key), key))
			}
		case len(byShort[key]) == 1:
		case len(byShort[key]) > 1:
			errs = append(errs, fmt.Errorf("%s: [components.%q] names %s: use the full name", where, key, strings.Join(byShort[key], " and ")))
		default:
			errs = append(errs, fmt.Errorf("%s: [components.%q] names no component of this application (known: %s)", where, key, strings.Join(known, ", ")))
		}
	}
	errs = append(errs, f.checkCallsComponents(known)...)
	return errors.Join(errs...)
}

// CheckComponentConfigs checks every [components.X] section against the
// application's components, before any of them starts. configs maps the
// full name of each component to a pointer to a fresh value of its config
// type (what pilotage.WithConfig holds), or to nil if it has none. Each
// section must name one component (see CheckComponents) and decode strictly
// into its config type; a component without one takes no keys. It reports
// every problem.
func (f *File) CheckComponentConfigs(configs map[string]any) error {
	known := make([]string, 0, len(configs))
	for name := range configs {
		known = append(known, name)
	}
	slices.Sort(known)
	if err := f.CheckComponents(known); err != nil {
		return err
	}
	var errs []error
	for _, name := range known {
		key, ok := f.sectionKey(name)
		if !ok {
			continue
		}
		dst := configs[name]
		if dst == nil {
			if !slices.ContainsFunc(f.meta.Keys(), inSection(key)) {
				continue // an empty section configures nothing
			}
			errs = append(errs, fmt.Errorf("%s: [components.%q]: %s takes no configuration (its implementation embeds no pilotage.WithConfig)", f.Where("components", key), key, name))
			continue
		}
		errs = append(errs, f.decodeSection(key, dst)...)
	}
	return errors.Join(errs...)
}

// CheckListeners reports every [listeners.X] section that names none of
// declared, the listeners the application's components declare.
func (f *File) CheckListeners(declared []string) error {
	var errs []error
	for _, name := range sortedKeys(f.Listeners) {
		if !slices.Contains(declared, name) {
			known := "it declares none"
			if len(declared) > 0 {
				sorted := slices.Sorted(slices.Values(declared))
				known = "known: " + strings.Join(slices.Compact(sorted), ", ")
			}
			errs = append(errs, fmt.Errorf("%s: [listeners.%s] names no listener of this application (%s)", f.Where("listeners", name), name, known))
		}
	}
	return errors.Join(errs...)
}

// sectionKeys returns the keys of [components.X], sorted.
func (f *File) sectionKeys() []string { return sortedKeys(f.components) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// shortName turns "example.com/shop/cart.Cart" into "cart.Cart".
func shortName(full string) string { return full[strings.LastIndex(full, "/")+1:] }
