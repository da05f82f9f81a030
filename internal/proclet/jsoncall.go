package proclet

import (
	"context"
	"fmt"

	"github.com/pilotage/pilotage/codegen"
	"github.com/pilotage/pilotage/internal/host"
	"github.com/pilotage/pilotage/internal/jsoncall"
	"github.com/pilotage/pilotage/internal/rpc"
)

// serveJSON registers with server the JSON entry point (package jsoncall)
// of the components hosted here, once they have all started: operators
// call their methods through it by name. A component whose generated code
// predates JSON calls is left out, and such a call answers so.
func serveJSON(ctx context.Context, h *host.Host, server *rpc.Server, hosted map[string]bool) error {
	comps, err := codegen.Components()
	if err != nil {
		return err
	}
	targets := map[string]jsoncall.Target{}
	for _, c := range comps {
		if !hosted[c.Name] || c.JSON == nil {
			continue
		}
		impl, err := h.Instance(ctx, c.Type) // started: this only looks it up
		if err != nil {
			return fmt.Errorf("serve JSON calls to %s: %w", c.Name, err)
		}
		targets[c.Name] = jsoncall.Target{Methods: c.Methods, JSON: c.JSON(impl)}
	}
	if err := server.Register(jsoncall.Component, jsoncall.Handlers(targets)); err != nil {
		return fmt.Errorf("serve JSON calls: %w", err)
	}
	return nil
}
