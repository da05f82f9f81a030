package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/deploy"
)

// actionTimeout bounds how long stop, start and restart wait for the
// component to settle.
const actionTimeout = 60 * time.Second

func stopCmd() *command {
	return lifecycleCmd("stop", "stop every replica of a component or unit",
		`Stop stops every replica of a component (for a colocated component, its
whole group) or unit of a running app, and keeps it stopped: its address is
first withdrawn from every caller, which then get ErrUnavailable at once,
then each replica drains its in-flight calls and exits. The other
components keep running.`)
}

func startCmd() *command {
	return lifecycleCmd("start", "start a stopped or failed component or unit",
		`Start starts a stopped or failed component or unit of a running app, once
everything it depends on is ready, and waits until it is ready. A replica
waiting out its cool-down after a crash loop is started at once.`)
}

func restartCmd() *command {
	return lifecycleCmd("restart", "restart a component or unit",
		`Restart replaces every replica of a component (for a colocated component,
its whole group) or unit of a running app, and waits until it is ready
again. With several replicas serving, the restart is rolling: one replica
at a time is drained, stopped and started again, and the next waits until
it is ready, so the component keeps serving throughout. A component with
one replica, or none serving, is stopped and started; its callers wait for
it meanwhile. With restart_dependents = true in [run.components.NAME], the
components that depend on it are restarted too. One replica, named as in
the logs ("cart.Cart/1"), is restarted alone.`)
}

// actionOutcome prints the result of op, or returns it as an error when
// the component did not get where op takes it: failed or degraded (after start or
// restart), or not settled yet when the supervisor stopped waiting.
func actionOutcome(op string, res *control.ActionResult, stdout io.Writer) error {
	if !res.Settled {
		return fmt.Errorf("%s did not settle in time: %s", op, res.Message)
	}
	if (res.State == control.Failed || res.State == control.Degraded) && op != "stop" {
		return errors.New(res.Message)
	}
	fmt.Fprintln(stdout, res.Message)
	return nil
}

func lifecycleCmd(op, short, long string) *command {
	var (
		k onKube
	)
	return &command{
		name:  op,
		usage: "[app] component|unit | --kube [--context C] [--namespace N] app component",
		short: short,
		long: long + "\n\n" + appLookupHelp("") + `

With --kube (or --context, --namespace, --kubeconfig), it acts on the app
as "pilotage deploy" put it on a cluster: on the Deployment of the live
version's group that runs the component. Stop scales it to zero, start
scales it back to its replicas, restart replaces its pods one at a time
(each new one ready before an old one goes). The other groups keep
serving; their calls to a stopped component fail fast with
ErrUnavailable.`,
		flags: func(fs *flag.FlagSet) {
			k.flags(fs, "act on the app deployed to Kubernetes")
		},
		run: func(_ *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
			if k.set() {
				if len(args) != 2 {
					return fmt.Errorf("%w: with --kube, name the app and the component", errUsage)
				}
				ctx, cancel := context.WithTimeout(context.Background(), deploy.DefaultTimeout)
				defer cancel()
				msg, err := deploy.Act(ctx, k.Target, args[0], args[1], deploy.GroupAction(op), stderr)
				if err != nil {
					return err
				}
				fmt.Fprintln(stdout, msg)
				return nil
			}
			app, name, err := appAndName(args)
			if err != nil {
				return err
			}
			return withApp(app, actionTimeout, func(ctx context.Context, c *control.Client) error {
				var res *control.ActionResult
				var err error
				switch op {
				case "stop":
					res, err = c.Stop(ctx, name)
				case "start":
					res, err = c.Start(ctx, name)
				default:
					res, err = c.Restart(ctx, name)
				}
				if err != nil {
					return err
				}
				return actionOutcome(op, res, stdout)
			})
		},
	}
}
