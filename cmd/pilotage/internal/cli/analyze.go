package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/analyze"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
)

func analyzeCmd() *command {
	var asJSON bool
	return &command{
		name:  "analyze",
		usage: "critical-chain|blame [app]",
		short: "show what slowed an app's startup",
		long: `Analyze asks the supervisor of a running app how its components and units
started, in the manner of systemd-analyze.

	critical-chain  the chain of units that decided when the app became
	                ready: each waited for the one below it, which became
	                ready last among those it waited for
	blame           the units sorted by the time they took to start

The app may be omitted when only one app is running.`,
		flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&asJSON, "json", false, "print the units' start and ready times as JSON")
		},
		run: func(fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			if len(args) < 1 || len(args) > 2 {
				return errUsage
			}
			var show func(io.Writer, []analyze.Unit) error
			switch args[0] {
			case "critical-chain":
				show = analyze.CriticalChain
			case "blame":
				show = analyze.Blame
			default:
				return fmt.Errorf("unknown analysis %q (want critical-chain or blame)", args[0])
			}
			app := ""
			if len(args) == 2 {
				app = args[1]
			}
			return withApp(app, 10*time.Second, func(ctx context.Context, c *control.Client) error {
				units, err := c.Analyze(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(stdout, units)
				}
				return show(stdout, units)
			})
		},
	}
}
