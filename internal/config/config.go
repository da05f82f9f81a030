// Package config reads pilotage.toml, the one configuration file of an
// application. Decoding is strict: a key that nothing reads is an error, so a
// typo is reported instead of silently ignored.
//
//	[app]
//	name = "shop"
//
//	[listeners.shop]
//	address = "127.0.0.1:8080"
//
//	[components."catalog.Catalog"]   # or the full "example.com/shop/catalog.Catalog"
//	currency = "EUR"
package config

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// File is a parsed configuration file.
type File struct {
	Path      string // where it was read from, for messages; empty if built in memory
	App       App
	Listeners map[string]Listener
	Run       Run
	Units     map[string]Unit

	components map[string]toml.Primitive
	meta       toml.MetaData
	used       map[string]bool // component section keys that were decoded
}

// App holds the [app] section.
type App struct {
	Name string `toml:"name"`
}

// Listener holds a [listeners.NAME] section.
type Listener struct {
	Address string `toml:"address"` // host:port; empty means a free loopback port
}

type raw struct {
	App        App                       `toml:"app"`
	Listeners  map[string]Listener       `toml:"listeners"`
	Run        Run                       `toml:"run"`
	Units      map[string]Unit           `toml:"units"`
	Components map[string]toml.Primitive `toml:"components"`
}

// Parse parses the text of a configuration file; path is used in messages.
func Parse(path, text string) (*File, error) {
	var r raw
	md, err := toml.Decode(text, &r)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", where(path), err)
	}
	// Component sections are checked when decoded, by DecodeComponent.
	if err := unknownKeys(path, md, func(k toml.Key) bool { return k[0] != "components" }); err != nil {
		return nil, err
	}
	return &File{Path: path, App: r.App, Listeners: r.Listeners, Run: r.Run, Units: r.Units, components: r.Components, meta: md, used: map[string]bool{}}, nil
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
func Empty() *File { return &File{used: map[string]bool{}} }

// DecodeComponent decodes the section of the component with full name
// "import/path.Iface" into dst. The section may be keyed by the full name or
// by its last path element ("catalog.Catalog"). A missing section leaves dst
// unchanged; an unknown key is an error.
func (f *File) DecodeComponent(fullName string, dst any) error {
	key, ok := f.sectionKey(fullName)
	if !ok {
		return nil
	}
	f.used[key] = true
	if err := f.meta.PrimitiveDecode(f.components[key], dst); err != nil {
		return fmt.Errorf("config %s: [components.%q]: %w", where(f.Path), key, err)
	}
	return unknownKeys(f.Path, f.meta, func(k toml.Key) bool {
		return len(k) > 2 && k[0] == "components" && k[1] == key
	})
}

func (f *File) sectionKey(fullName string) (string, bool) {
	if _, ok := f.components[fullName]; ok {
		return fullName, true
	}
	short := fullName[strings.LastIndex(fullName, "/")+1:]
	_, ok := f.components[short]
	return short, ok
}

// CheckComponents reports sections that name no component in known (full
// names), so a misspelt section is not ignored.
func (f *File) CheckComponents(known []string) error {
	names := map[string]bool{}
	for _, n := range known {
		names[n] = true
		names[n[strings.LastIndex(n, "/")+1:]] = true
	}
	var bad []string
	for key := range f.components {
		if !names[key] {
			bad = append(bad, key)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	return fmt.Errorf("config %s: [components.%q] names no component of this application (known: %s)", where(f.Path), bad[0], strings.Join(known, ", "))
}

// unknownKeys reports the first key selected by in that decoding did not consume.
func unknownKeys(path string, md toml.MetaData, in func(toml.Key) bool) error {
	for _, k := range md.Undecoded() {
		if len(k) > 0 && in(k) {
			return fmt.Errorf("config %s: unknown key %q", where(path), k.String())
		}
	}
	return nil
}

func where(path string) string {
	if path == "" {
		return "(inline)"
	}
	return path
}
