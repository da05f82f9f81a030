package host

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/pilotage/pilotage/codegen"
	"github.com/pilotage/pilotage/internal/config"
)

// CheckConfig checks cfg against the registered components before anything
// starts, the same way whatever runs them (go run ., a proclet; "pilotage
// run" checks the same beforehand against the config schemas embedded in
// the binary, and this stays the final word): every [components.X] section names a
// component and decodes strictly into a fresh value of its config type,
// even a component that would never be started, and every [listeners.X]
// names a listener some component declares, and every per-method timeout
// of [calls.components.X] names a method of X. It reports every problem.
func CheckConfig(cfg *config.File) error {
	comps, err := codegen.Components()
	if err != nil {
		return err
	}
	return checkConfig(cfg, comps)
}

func checkConfig(cfg *config.File, comps []codegen.Component) error {
	configs := map[string]any{}
	var listeners []string
	methods := map[string][]string{}
	for _, c := range comps {
		for _, m := range c.Methods {
			methods[c.Name] = append(methods[c.Name], m.Name)
		}
		fields, err := Inspect(reflect.New(c.Impl.Type).Interface())
		if err != nil {
			return fmt.Errorf("component %s: %w", c.Name, err)
		}
		configs[c.Name] = fields.Config
		for _, l := range fields.Listeners {
			listeners = append(listeners, l.Name)
		}
	}
	return errors.Join(cfg.CheckComponentConfigs(configs), cfg.CheckListeners(listeners), cfg.CheckCallMethods(methods))
}
