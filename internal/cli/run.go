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

	"github.com/pilotage/pilotage/internal/config"
	"github.com/pilotage/pilotage/internal/control"
	"github.com/pilotage/pilotage/internal/generate"
	"github.com/pilotage/pilotage/internal/logstore"
	"github.com/pilotage/pilotage/internal/supervisor"
)

func runCmd() *command {
	var configPath string
	return &command{
		name:  "run",
		usage: "[-c pilotage.toml] [dir | binary]",
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
$XDG_STATE_HOME/pilotage/APP, else ~/.local/state/pilotage/APP.`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&configPath, "c", "", "configuration `file` (default pilotage.toml in the app's directory)")
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
			return runApp(ctx, target, configPath, stdout, stderr)
		},
	}
}

// runApp builds (if target is a directory) and runs the app until ctx is done.
func runApp(ctx context.Context, target, configPath string, stdout, stderr io.Writer) error {
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
	}
	stateDir, err := control.StateDir(app)
	if err != nil {
		return err
	}
	// The lock comes first: two runs of one app must not build the same
	// binary at once.
	lock, err := control.Lock(stateDir, app)
	if err != nil {
		return err
	}
	defer lock.Close() // once Run has it, closing again is harmless
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
		App:        app,
		Binary:     binary,
		Dir:        dir,
		Config:     cfg,
		ConfigPath: cfgPath,
		StateDir:   stateDir,
		Lock:       lock,
		Stdout:     stdout,
		Color:      isTerminal(stdout),
		Logs:       logs,
	})
	if err != nil {
		return err
	}
	return s.Run(ctx)
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
	if err := generate.Generate(dir, []string{"./..."}); err != nil {
		return "", fmt.Errorf("generate:\n%w", err)
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
