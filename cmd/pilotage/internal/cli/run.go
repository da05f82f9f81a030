package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/state"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/generate"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/logstore"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/supervisor"
	"github.com/pilotage/pilotage/internal/config"
)

func runCmd() *command {
	var (
		configPath string
		force      bool
		rpcNetwork string
	)
	return &command{
		name:  "run",
		usage: "[-c pilotage.toml] [-rpc unix|tcp] [dir | binary]",
		short: "run an app as several processes on this machine",
		long: `Run runs an application as several processes ("proclets") on this machine
and supervises them until interrupted, like systemd units.

Given a source directory (default "."), it writes stale stubs as
"pilotage generate ./..." would, and builds the binary into the app's state
directory; given a binary, it runs that. The configuration is the -c file,
else pilotage.toml in the directory if there is one. The app is named by
[app] name, else by the directory or binary.

Every component runs in its own process, except the groups of [run]
colocate, with [run] replicas processes each (default 2; per component,
[run.components.NAME] replicas). Components and [units] start in dependency
order: each once everything it depends on has a ready replica. Each named
listener is served on its [listeners.NAME] address (default a free loopback
port) and balanced over the replicas. A process that exits or reports
itself unhealthy is restarted with a backoff; past [run] start_limit
restarts within start_interval, its component is marked failed.

Output lines are prefixed with their component and replica, and stored
under the state directory for "pilotage logs". Ctrl-C stops everything,
dependents first.

While it runs, see "pilotage status", "pilotage stop|start|restart", and
"pilotage analyze". The state directory is $PILOTAGE_STATE_DIR, else
$XDG_STATE_HOME/pilotage/ID, else ~/.local/state/pilotage/ID, where the ID
is the app's name and a hash of its directory (or binary): shop-1a2b3c4d.`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&configPath, "c", "", "configuration `file` (default pilotage.toml in the app's directory)")
			fs.BoolVar(&force, "force", false, "run however many processes the configuration asks for (by default at most 64 per CPU)")
			fs.StringVar(&rpcNetwork, "rpc", "unix", "how replicas call each other: `unix` sockets, or tcp on loopback ports (the path calls take between pods on Kubernetes)")
		},
		run: func(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
			if len(args) > 1 {
				return errUsage
			}
			target := "."
			if len(args) == 1 {
				target = args[0]
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			go func() {
				<-ctx.Done()
				stop() // a second Ctrl-C kills the supervisor, and with it every process
			}()
			defer keepRunningWithoutTerminal(stderr)()
			return runApp(ctx, target, configPath, force, rpcNetwork, stdout, stderr)
		},
	}
}

// runApp builds (if target is a directory) and runs the app until ctx is done.
func runApp(ctx context.Context, target, configPath string, force bool, rpcNetwork string, stdout, stderr io.Writer) error {
	abs, err := filepath.Abs(target)
	if err != nil {
		return err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return fmt.Errorf("%s: %w", target, err)
	}
	source := fi.IsDir()
	dir, binary := abs, ""
	if !source {
		binary = abs
		if dir, err = os.Getwd(); err != nil {
			return err
		}
	}
	cfg, cfgPath, err := loadRunConfig(configPath, dir)
	if err != nil {
		return err
	}
	app := cfg.App.Name
	if app == "" {
		app = filepath.Base(abs)
		if !source {
			app = strings.TrimSuffix(app, filepath.Ext(app))
		}
		if err := config.CheckAppName(app); err != nil {
			return fmt.Errorf("%w (it comes from %s; set [app] name in pilotage.toml)", err, abs)
		}
	}
	stateDir, err := state.StateDir(app, abs)
	if err != nil {
		return err
	}
	// The lock comes first: two runs of one app must not build the same
	// binary at once.
	lock, err := state.Lock(stateDir, app)
	if err != nil {
		return err
	}
	defer lock.Close() // once Run has it, closing again is harmless
	// The coordination store starts now, while the app builds.
	coord := supervisor.StartCoordination(ctx, app, stateDir, cfg.Coordination)
	defer coord.Close() // Run stops it; this, if Run is not reached
	info := state.AppInfo{Name: app, Binary: binary, Config: cfgPath}
	if source {
		info.Dir = dir
	}
	if err := state.WriteAppInfo(stateDir, info); err != nil {
		return err
	}
	if source {
		if binary, err = build(ctx, dir, stateDir, app, stderr); err != nil {
			return err
		}
	}
	logs, err := logstore.Open(filepath.Join(stateDir, "logs"), logstore.Options{})
	if err != nil {
		return err
	}
	defer logs.Close()
	s, err := supervisor.New(ctx, supervisor.Options{
		App:          app,
		Binary:       binary,
		Dir:          dir,
		Config:       cfg,
		ConfigPath:   cfgPath,
		StateDir:     stateDir,
		Lock:         lock,
		Coordination: coord,
		Stdout:       stdout,
		Stderr:       stderr,
		MaxProcesses: maxProcesses(force),
		RPCNetwork:   rpcNetwork,
		Color:        isTerminal(stdout),
		Logs:         logs,
	})
	if err != nil {
		return err
	}
	return s.Run(ctx)
}

// maxProcesses is supervisor.Options.MaxProcesses for -force.
func maxProcesses(force bool) int {
	if force {
		return -1
	}
	return 0
}

// keepRunningWithoutTerminal keeps the app running when its terminal goes
// away: a write to a closed pipe (pilotage run | head) fails with EPIPE
// instead of killing the supervisor with SIGPIPE (the supervisor then
// stops writing to the terminal and says so on stderr), and a hangup of
// the terminal is ignored, which stderr is told once. The handlers are
// reset in the processes the supervisor starts, unlike an ignored signal.
// It returns a function that undoes this.
func keepRunningWithoutTerminal(stderr io.Writer) (undo func()) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGPIPE, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		told := false
		for {
			select {
			case sig := <-c:
				if sig == syscall.SIGHUP && !told {
					told = true
					fmt.Fprintf(stderr, "pilotage: the terminal hung up; the app keeps running (stop it with `kill %d`)\n", os.Getpid())
				}
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(c)
		close(done)
	}
}

// loadRunConfig reads path, else <dir>/pilotage.toml if it exists.
func loadRunConfig(path, dir string) (*config.File, string, error) {
	if path == "" {
		path = filepath.Join(dir, "pilotage.toml")
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return config.Empty(), "", nil
		}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, "", err
	}
	cfg, err := config.Read(abs)
	if err != nil {
		return nil, "", err
	}
	return cfg, abs, nil
}

// build writes stale stubs and builds the app in dir into the state directory.
func build(ctx context.Context, dir, stateDir, app string, stderr io.Writer) (string, error) {
	start := time.Now()
	fmt.Fprintf(stderr, "pilotage: generating stubs and building %s...\n", app)
	opts := generate.Options{Dir: dir}
	if cache, err := os.UserCacheDir(); err == nil { // else no shortcut: generate anew
		opts.CacheDir = filepath.Join(cache, "pilotage")
	}
	res, err := generate.Run(opts)
	if err != nil {
		return "", fmt.Errorf("generate:\n%w", err)
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(stderr, "pilotage: warning: %v\n", w)
	}
	out := filepath.Join(stateDir, "bin", app)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, ".")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build in %s: %w", dir, err)
	}
	fmt.Fprintf(stderr, "pilotage: built %s in %s\n", app, time.Since(start).Round(10*time.Millisecond))
	return out, nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
