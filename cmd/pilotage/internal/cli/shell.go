package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/state"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/shell"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree/appfs"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree/deployfs"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree/kubefs"
)

func shCmd() *command {
	var line string
	return &command{
		name:  "sh",
		usage: "[-c 'command']",
		short: "the pilotage shell: every app and Kubernetes object as one tree",
		long: `Sh starts the pilotage shell on the tree of everything running: the apps
under /apps (components, replicas, units, config, locks, leaders), those
of this machine and those deployed ("pilotage deploy") in the namespace
of your kubeconfig's current context, and the objects of every context
of your kubeconfig under /kube.
It starts in the current app's directory (~); "help" lists its commands
(cd, ls, tree, cat, edit, rm, start, stop, restart, get, put, logs, exec,
call). On a terminal it keeps history (in the state root's sh_history)
and completes commands, paths and method names on Tab; Ctrl-C cancels the
running command. With stdin not a terminal it runs the commands read from
it, one per line, stopping at the first that fails.

Every command also runs on its own: "pilotage ls -l /apps/shop/components".
Exit statuses: 0 ok, 1 error, 2 usage, 3 no such path.`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&line, "c", "", "run this one command line and exit with its status")
		},
		run: func(_ *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
			if len(args) > 0 {
				return errUsage
			}
			status := runShell(stdout, stderr, line == "", func(ctx context.Context, sh *shell.Shell) int {
				if line != "" {
					words, err := shell.SplitWords(line)
					if err != nil {
						fmt.Fprintf(stderr, "sh -c: %v\n", err)
						return shell.ExitUsage
					}
					return sh.Run(ctx, words)
				}
				return sh.Interactive(ctx)
			})
			if status != 0 {
				return &exitStatus{status}
			}
			return nil
		},
	}
}

// exitStatus makes Main exit with a status, having printed nothing more.
type exitStatus struct{ status int }

func (e *exitStatus) Error() string { return fmt.Sprintf("exit status %d", e.status) }

// isPathArg reports whether arg names a tree path, so that "pilotage logs
// /apps/shop/components/*" is the shell's logs, and "pilotage logs shop"
// the app's.
func isPathArg(arg string) bool {
	return strings.HasPrefix(arg, "/") || arg == "~" || strings.HasPrefix(arg, "~/") || arg == "." || strings.HasPrefix(arg, "./") || strings.HasPrefix(arg, "..")
}

// treeCommand reports whether args (a command and its arguments) is a
// shell command to run on its own: a command only the shell has, or one
// of logs, start, stop, restart given a path.
func treeCommand(args []string) bool {
	if !shell.IsCommand(args[0]) {
		return false
	}
	if lookup(args[0]) == nil {
		return true
	}
	for _, a := range args[1:] {
		if isPathArg(a) {
			return true
		}
	}
	return false
}

// runTreeCommand runs a shell command on its own and returns its exit
// status.
func runTreeCommand(args []string, stdout, stderr io.Writer) int {
	return runShell(stdout, stderr, false, func(ctx context.Context, sh *shell.Shell) int { return sh.Run(ctx, args) })
}

// runShell builds the tree and a shell on it, runs f, and returns its
// status. Unless interactive, Ctrl-C cancels f's context (a "logs -f"
// then ends cleanly).
func runShell(stdout, stderr io.Writer, interactive bool, f func(ctx context.Context, sh *shell.Shell) int) int {
	stateRoot, err := state.StateRoot()
	if err != nil {
		fmt.Fprintf(stderr, "pilotage: %v\n", err)
		return shell.ExitError
	}
	apps := appfs.New(appfs.Options{}) // the apps the other commands see, $PILOTAGE_STATE_DIR included
	defer apps.Close()
	deployed := deployfs.New(deployfs.Options{}) // the current kubeconfig context's namespace
	defer deployed.Close()
	kube, err := kubefs.New(kubefs.Options{Mount: "/kube"})
	if err != nil {
		fmt.Fprintf(stderr, "pilotage: %v\n", err)
		return shell.ExitError
	}
	defer kube.Close()
	root := tree.NewRoot()
	root.Mount(api.Apps, tree.NewUnion(api.Join(api.Apps), apps, deployed))
	root.Mount("kube", kube)

	ctx := context.Background()
	if !interactive { // the interactive shell cancels each command on its own Ctrl-C
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt)
		defer stop()
	}
	sh := shell.New(shell.Options{
		Root: root, Home: home(ctx, root),
		Stdin: os.Stdin, Stdout: stdout, Stderr: stderr,
		HistoryFile: filepath.Join(stateRoot, "sh_history"),
	})
	return f(ctx, sh)
}

// home returns the directory of the current app (as the other commands
// find it: the app of the current directory, else the only one running),
// or /apps if there is none.
func home(ctx context.Context, root tree.FS) string {
	a, err := findApp("", false)
	if err != nil {
		return api.Join(api.Apps)
	}
	for _, name := range []string{a.Info.Name, a.ID} {
		p := api.Join(api.Apps, name)
		if _, err := root.Stat(ctx, p); err == nil {
			return p
		} else if !errors.Is(err, tree.ErrNotFound) {
			break
		}
	}
	return api.Join(api.Apps)
}
