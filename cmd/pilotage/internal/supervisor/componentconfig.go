package supervisor

import (
	"encoding/json"

	"github.com/pilotage/pilotage/internal/config"
)

// componentConfigs returns the [components."<name>"] section of cfg of
// every component of plan as a JSON object, by full name, for the control
// API (api.ComponentStatus.Config); components without a section are left
// out. It decodes cfg, which is not safe for concurrent use: New calls it
// once, before anything runs. A section that does not encode as JSON is
// reported with logf and left out: it only lacks from what the API shows.
func componentConfigs(plan *Plan, cfg *config.File, logf func(format string, args ...any)) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	for _, c := range plan.Components {
		var section map[string]any
		err := cfg.DecodeComponent(c.Name, &section)
		switch {
		case section != nil:
			// Decoded, whatever err says: decoding into a map, the
			// keys of nested tables count as unknown.
		case err != nil:
			logf("control API: the configuration of %s: %v", c.Name, err)
			continue
		default:
			continue // no section
		}
		b, err := json.Marshal(section)
		if err != nil {
			logf("control API: the configuration of %s: %v", c.Name, err)
			continue
		}
		out[c.Name] = b
	}
	return out
}
