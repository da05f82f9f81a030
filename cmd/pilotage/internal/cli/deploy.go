package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/deploy"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/envelope"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/router"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/storepod"
)

// kubeFlags declares the flags that name a cluster and a namespace.
func kubeFlags(fs *flag.FlagSet, t *deploy.Target) {
	fs.StringVar(&t.Kubeconfig, "kubeconfig", "", "kubeconfig `file` (default $KUBECONFIG, else ~/.kube/config)")
	fs.StringVar(&t.Context, "context", "", "kubeconfig `context` (default the current one)")
	fs.StringVar(&t.Namespace, "namespace", "", "`namespace` (default the context's; for deploy, [kube] namespace first)")
}

// onKube is the --kube flag with the flags that name a cluster, of a
// command that acts on an app under "pilotage run" or, with them, on
// the app "pilotage deploy" put on a cluster.
type onKube struct {
	kube bool
	deploy.Target
}

func (k *onKube) flags(fs *flag.FlagSet, usage string) {
	fs.BoolVar(&k.kube, "kube", false, usage)
	kubeFlags(fs, &k.Target)
}

// set says whether the command acts on the cluster: --kube, or any flag
// naming one.
func (k *onKube) set() bool { return k.kube || k.Target != (deploy.Target{}) }

func deployCmd() *command {
	var (
		opts       deploy.Options
		configPath string
	)
	return &command{
		name:  "deploy",
		usage: "[-c pilotage.toml] [--context C] [--namespace N] [--registry R] [dir]",
		short: "deploy an app to a Kubernetes cluster",
		long: `Deploy builds the application in dir (default ".") as a static Linux
binary, packs it with a static pilotage binary into an OCI image (no Docker
engine needed), pushes it to <registry>/<app> ([kube] registry, or
--registry), and applies it to the cluster as a new version with
server-side apply (field manager "pilotage"):

  each colocation group   a Deployment ([run] replicas) and a headless
                          Service its version's replicas find it by
  pilotage.toml           a ConfigMap, mounted in every pod
  each listener           a Service on the listener's port, selecting
                          the live version's pods
  the app                 a ServiceAccount and a Role that reads
                          EndpointSlices, nothing more

A pod starts its app once every group it calls has a ready pod, and is
ready once its components are, so groups come up in dependency order as
under "pilotage run".
Once every group of the new version is ready, the listeners switch to it
in one update each, and the older versions are removed (their pods drain
first). Replicas only ever call replicas of their own version.

With --canary N, the new version does not go live: once ready, it gets N
percent (1 to 50) of each listener's HTTP requests beside the live
version. The listener Services then select a router of pilotage's (two
pods) that sends each request to one version or the other; with --sticky
header:NAME or cookie:NAME, a request carrying that header or cookie goes
to the version a hash of its value picks, so one client stays on one
version. Calls behind the listener stay within the version that took the
request. The router counts each version's requests and failures (status
500 or more, or no reply): "pilotage status --kube app" shows them.
"pilotage promote app" then makes the canary live (blue/green, as a
deploy), unless it fails more often than the live version; "pilotage
abort app" (or "pilotage rollback app") returns all traffic to the live
version at once and removes the canary and its router. A canary's
listeners must speak HTTP.

With --render DIR, nothing is applied: the image is pushed, and the
objects a deploy would apply are written as a Helm chart in DIR/<app>
(Chart.yaml, values.yaml, templates/), for teams that deploy through
GitOps: the namespace is the release's, and values.yaml holds the image
and each group's replicas. The chart holds one version; blue/green
switches, canaries and rollback are pilotage deploy's.

A version that does not become ready within -timeout (or whose pods crash
or cannot pull their image) is left in place for inspection, and the
error says which pod and why; the live version keeps serving. The next
deploy, or "pilotage delete", removes it.`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&configPath, "c", "", "configuration `file` (default pilotage.toml in dir)")
			kubeFlags(fs, &opts.Target)
			fs.StringVar(&opts.Registry, "registry", "", "image repository `prefix` (default [kube] registry)")
			fs.DurationVar(&opts.Timeout, "timeout", deploy.DefaultTimeout, "how long the new version may take to become ready")
			fs.StringVar(&opts.Render, "render", "", "write the version as a Helm chart in `dir`/<app> (after pushing its image) instead of applying it")
			fs.IntVar(&opts.Canary, "canary", 0, "make the new version a canary with this `percent` of the listeners' requests, beside the live one")
			fs.StringVar(&opts.Sticky, "sticky", "", "with --canary, keep each client on one version by this `header:NAME or cookie:NAME`")
		},
		run: func(_ *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
			if len(args) > 1 {
				return errUsage
			}
			opts.Dir = "."
			if len(args) == 1 {
				opts.Dir = args[0]
			}
			opts.ConfigPath = configPath
			opts.Out = stderr
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			res, err := deploy.Deploy(ctx, opts)
			if err != nil {
				return err
			}
			if res.Chart != "" {
				fmt.Fprintln(stdout, res.Chart)
				return nil
			}
			fmt.Fprintf(stdout, "%s %s\n", res.App, res.Version)
			return nil
		},
	}
}

func rollbackCmd() *command {
	var (
		t       deploy.Target
		timeout time.Duration
	)
	return &command{
		name:  "rollback",
		usage: "[--context C] [--namespace N] app",
		short: "return a deployed app to the version live before",
		long: `Rollback makes the version of app that was live before the current one
live again, the way a deploy switches: that version's groups (kept at
zero replicas since it was retired) are scaled back up beside the live
ones, and once every one is ready the listeners switch to them at once and
the current version is retired in its turn, so a second rollback returns
to it. Nothing is rebuilt: its image and configuration are those it ran
with.`,
		flags: func(fs *flag.FlagSet) {
			kubeFlags(fs, &t)
			fs.DurationVar(&timeout, "timeout", deploy.DefaultTimeout, "how long the version may take to become ready")
		},
		run: func(_ *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
			if len(args) != 1 {
				return errUsage
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			version, err := deploy.Rollback(ctx, t, args[0], timeout, stderr)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s %s\n", args[0], version)
			return nil
		},
	}
}

func promoteCmd() *command { return canaryCmd("promote", "make an app's canary version live") }
func abortCmd() *command {
	return canaryCmd("abort", "end an app's canary, returning its traffic to the live version")
}

func canaryCmd(name, short string) *command {
	var (
		t     deploy.Target
		force bool
	)
	long := `Promote makes the canary version of app (pilotage deploy --canary) live:
the listeners switch to it alone at once, the version live before is
retired (pilotage rollback returns to it), and the canary's router is
removed. It first reads the router's counts: a canary whose share of
failed requests is more than a point above the live version's is not
promoted, unless --force.`
	if name == "abort" {
		long = `Abort ends the canary of app (pilotage deploy --canary): the listeners
switch back to the live version alone at once, and the canary version and
its router are removed (their pods drain).`
	}
	return &command{
		name:  name,
		usage: "[--context C] [--namespace N] app",
		short: short,
		long:  long,
		flags: func(fs *flag.FlagSet) {
			kubeFlags(fs, &t)
			if name == "promote" {
				fs.BoolVar(&force, "force", false, "promote even a canary that fails more often than the live version, or whose counts cannot be read")
			}
		},
		run: func(_ *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
			if len(args) != 1 {
				return errUsage
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			var version string
			var err error
			if name == "promote" {
				version, err = deploy.Promote(ctx, t, args[0], force, stderr)
			} else {
				version, err = deploy.Abort(ctx, t, args[0], stderr)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s %s\n", args[0], version)
			return nil
		},
	}
}

func deleteCmd() *command {
	var t deploy.Target
	return &command{
		name:  "delete",
		usage: "[--context C] [--namespace N] app",
		short: "remove a deployed app from a Kubernetes cluster",
		long: `Delete removes every object "pilotage deploy" made for app in the
namespace (every version's Deployments, Services and ConfigMaps, the
listener Services, the ServiceAccount and its Role), and nothing else:
it selects them by their pilotage labels. Pods drain as they terminate.`,
		flags: func(fs *flag.FlagSet) { kubeFlags(fs, &t) },
		run: func(_ *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			if len(args) != 1 {
				return errUsage
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			n, err := deploy.Delete(ctx, t, args[0])
			if err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("%s: nothing deployed in this namespace", args[0])
			}
			fmt.Fprintf(stdout, "deleted %s: %d objects\n", args[0], n)
			return nil
		},
	}
}

// kubeEtcdCmd is the entrypoint of the coordination store's pods; it is
// not listed in the help.
func kubeEtcdCmd() *command {
	return &command{
		name:   layout.StoreCommand,
		short:  "(the entrypoint of the coordination store's pods made by pilotage deploy)",
		hidden: true,
		long:   "Kube-etcd runs inside a pod made by pilotage deploy: it is one member of the app's coordination store.",
		run: func(_ *flag.FlagSet, args []string, _, stderr io.Writer) error {
			if len(args) != 0 {
				return errUsage
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			return storepod.Run(ctx, stderr)
		},
	}
}

// kubeRouterCmd is the entrypoint of a canary's router pods; it is not
// listed in the help.
func kubeRouterCmd() *command {
	return &command{
		name:   layout.RouterCommand,
		short:  "(the entrypoint of a canary's router pods made by pilotage deploy)",
		hidden: true,
		long:   "Kube-router runs inside a pod made by pilotage deploy --canary: it shares the listeners' requests between the live version and the canary.",
		run: func(_ *flag.FlagSet, args []string, _, stderr io.Writer) error {
			if len(args) != 0 {
				return errUsage
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			return router.Run(ctx, stderr)
		},
	}
}

// kubeEnvelopeCmd is the entrypoint of the pods "pilotage deploy" makes;
// it is not listed in the help.
func kubeEnvelopeCmd() *command {
	return &command{
		name:   "kube-envelope",
		short:  "(the entrypoint of pods made by pilotage deploy)",
		hidden: true,
		long:   "Kube-envelope runs inside a pod made by pilotage deploy: it starts the app's binary and is its deployer.",
		run: func(_ *flag.FlagSet, args []string, _, stderr io.Writer) error {
			if len(args) != 0 {
				return errUsage
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			status, err := envelope.Run(ctx, stderr)
			if err != nil {
				return err
			}
			if status != 0 {
				return &exitStatus{status: status}
			}
			return nil
		},
	}
}
