package proclet

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"

	"github.com/pilotage/pilotage/codegen"
	"github.com/pilotage/pilotage/internal/config"
	"github.com/pilotage/pilotage/internal/host"
)

// ConfigEnvVar names the configuration file. pilotage.Run reads it under
// "go run ."; the describe run checks that file (Describe).
const ConfigEnvVar = "PILOTAGE_CONFIG"

// Describe writes the Description of the registered components as JSON. If
// $PILOTAGE_CONFIG names a file, the Description also lists its problems,
// checked as every process will check it (host.CheckConfig): only this
// binary knows the components' config types, so the supervisor learns here,
// before it starts anything, that a component section does not fit.
func Describe(w io.Writer, mainIface reflect.Type) error {
	comps, err := codegen.Components()
	if err != nil {
		return err
	}
	var d Description
	for _, c := range comps {
		info := ComponentInfo{Name: c.Name, Refs: []string{}, Main: c.Type == mainIface}
		fields, err := host.Inspect(reflect.New(c.Impl.Type).Interface())
		if err != nil {
			return fmt.Errorf("describe %s: %w", c.Name, err)
		}
		for _, r := range fields.Refs {
			dep, ok := codegen.Find(r.Interface)
			if !ok {
				return fmt.Errorf("describe %s: it refers to %v, which has no generated code: run \"pilotage generate\"", c.Name, r.Interface)
			}
			info.Refs = append(info.Refs, dep.Name)
		}
		for _, l := range fields.Listeners {
			info.Listeners = append(info.Listeners, l.Name)
		}
		d.Components = append(d.Components, info)
	}
	if path := os.Getenv(ConfigEnvVar); path != "" {
		d.ConfigErrors = problems(checkConfigFile(path))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}

// checkConfigFile reads the configuration at path and checks it against
// the registered components.
func checkConfigFile(path string) error {
	cfg, err := config.Read(path)
	if err != nil {
		return err
	}
	return host.CheckConfig(cfg)
}

// problems lists the messages of err, one per error joined in it
// (errors.Join), so that the supervisor can report each on its own line.
func problems(err error) []string {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, problems(e)...)
		}
		return out
	}
	return []string{err.Error()}
}
