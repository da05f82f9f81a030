package proclet

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"

	"github.com/pilotage/pilotage/codegen"
	"github.com/pilotage/pilotage/internal/host"
)

// Describe writes the Description of the registered components as JSON.
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
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}
