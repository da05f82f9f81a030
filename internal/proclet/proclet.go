package proclet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/pilotage/pilotage/codegen"
	"github.com/pilotage/pilotage/internal/config"
	"github.com/pilotage/pilotage/internal/host"
	"github.com/pilotage/pilotage/internal/rpc"
)

// ReadEnv returns the proclet environment, or ok=false when this process was
// not started by a supervisor.
func ReadEnv() (env Env, ok bool, err error) {
	v := os.Getenv(EnvVar)
	if v == "" {
		return Env{}, false, nil
	}
	if err := json.Unmarshal([]byte(v), &env); err != nil {
		return Env{}, true, fmt.Errorf("bad %s: %w", EnvVar, err)
	}
	return env, true, nil
}

// Options configure Run.
type Options struct {
	Main   reflect.Type                              // the Main interface type
	App    func(ctx context.Context, main any) error // called if Main is hosted here
	Logger *slog.Logger
}

// How long Run waits for things that should happen promptly.
const (
	firstRoutesTimeout = 10 * time.Second
	healthInterval     = time.Second
	healthTimeout      = 5 * time.Second
	// Each phase of shutdown (the app function returning, in-flight calls
	// draining, components' Shutdown) gets this long.
	phaseTimeout = 10 * time.Second
)

// Run hosts the components env names until the supervisor sends Stop or goes
// away, or ctx is done, and then shuts down: the app function (if Main is
// hosted here) is cancelled and waited for, in-flight calls drain, then the
// components' Shutdown methods run, dependents first. The control socket is
// read throughout, starting included, so routes stay current and a Stop or
// the supervisor's death is acted on at once.
func Run(ctx context.Context, env Env, opts Options) (err error) {
	ctl, err := openControl()
	if err != nil {
		return err
	}
	defer ctl.Close()
	defer func() {
		if err != nil {
			// Best effort: the supervisor reads it as the reason of the exit
			// that follows, if the socket is still there.
			_ = ctl.send(Message{Type: Failed, Error: err.Error()})
		}
	}()
	routes := newRouter()
	defer routes.close()
	msgs := make(chan Message, 16)
	firstRoutes := make(chan struct{})
	var once sync.Once
	go ctl.receive(msgs, func(m Message) {
		routes.update(m)
		once.Do(func() { close(firstRoutes) })
	})
	if err := awaitRoutes(ctx, msgs, firstRoutes); err != nil {
		return err
	}
	cfg := config.Empty()
	if env.ConfigPath != "" {
		if cfg, err = config.Read(env.ConfigPath); err != nil {
			return err
		}
	}
	server := rpc.NewServer(rpc.ServerOptions{})
	l, addr, err := listenRPC(env.RPCAddress)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- server.Serve(l) }()
	defer server.Close()
	if err := ctl.send(Message{Type: Hello, PID: os.Getpid(), Address: addr}); err != nil {
		return err
	}

	hosted := map[string]bool{}
	for _, c := range env.Components {
		hosted[c] = true
	}
	// Lifecycle messages are best effort: if the socket is gone, the
	// receive loop sees it and Run returns.
	h, err := host.New(host.Options{
		Mode:   host.Multi,
		Config: cfg,
		Logger: opts.Logger,
		Hosted: hosted,
		Remote: routes.caller,
		Serve:  server.Register,
		ListenerAddress: func(name string) string {
			if a := env.Listeners[name]; a != "" {
				return a
			}
			return "127.0.0.1:0"
		},
		OnListen: func(name string, a net.Addr) {
			_ = ctl.send(Message{Type: Listening, Listener: name, Address: a.String()})
		},
		OnStarting: func(c string) { _ = ctl.send(Message{Type: ComponentStarting, Component: c}) },
		OnReady:    func(c string) { _ = ctl.send(Message{Type: ComponentReady, Component: c}) },
	})
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	started := make(chan error, 1)
	go func() { started <- startAll(ctx, h) }()
	appDone := make(chan error, 1)
	appRunning := false
	defer func() {
		cancel()
		err = errors.Join(err, shutdown(h, server, started, appDone, appRunning))
	}()

	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				return errors.New("supervisor went away")
			}
			if m.Type == Stop {
				return nil
			}
		case err := <-started:
			started = nil // started, or failed: either way not waited for again
			if err != nil {
				return err
			}
			if err := ctl.send(Message{Type: Ready}); err != nil {
				return err
			}
			go monitorHealth(ctx, h, ctl)
			if hosted[codegenName(opts.Main)] && opts.App != nil {
				main, err := h.Instance(ctx, opts.Main)
				if err != nil {
					return err
				}
				appRunning = true
				go func() { appDone <- opts.App(ctx, main) }()
			}
		case err := <-appDone:
			appRunning = false
			if err == nil {
				// Tells a finished app from a replica stopped by a signal.
				if err := ctl.send(Message{Type: AppDone}); err != nil {
					return err
				}
			}
			return err
		case err := <-served:
			return fmt.Errorf("rpc server stopped: %w", err)
		case <-ctx.Done():
			return nil
		}
	}
}

// awaitRoutes waits for the supervisor's first Routes message.
func awaitRoutes(ctx context.Context, msgs <-chan Message, firstRoutes <-chan struct{}) error {
	timeout := time.NewTimer(firstRoutesTimeout)
	defer timeout.Stop()
	for {
		select {
		case <-firstRoutes:
			return nil
		case m, ok := <-msgs:
			if !ok {
				return errors.New("supervisor closed the control socket before sending routes")
			}
			if m.Type == Stop {
				return errors.New("stopped before starting")
			}
		case <-timeout.C:
			return errors.New("no routes from the supervisor")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// startAll starts the hosted components and waits until they are healthy.
func startAll(ctx context.Context, h *host.Host) error {
	if err := h.StartAll(ctx); err != nil {
		return err
	}
	for {
		err := checkHealth(ctx, h)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not healthy: %w", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// monitorHealth reports a failing health check to the supervisor, which
// replaces this replica.
func monitorHealth(ctx context.Context, h *host.Host, ctl *controlConn) {
	tick := time.NewTicker(healthInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := checkHealth(ctx, h); err != nil && ctx.Err() == nil {
				_ = ctl.send(Message{Type: Unhealthy, Error: err.Error()})
			}
		}
	}
}

// checkHealth runs the health checks with a time limit: a check that hangs
// counts as failing.
func checkHealth(ctx context.Context, h *host.Host) error {
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	return h.Health(ctx)
}

// shutdown stops the process's work in order, once ctx is cancelled: the
// app function returns, the start finishes (Init methods see the cancelled
// context), in-flight calls drain, and the components shut down. A phase
// that overruns phaseTimeout is abandoned, and the process exits anyway.
func shutdown(h *host.Host, server *rpc.Server, started <-chan error, appDone <-chan error, appRunning bool) error {
	var errs []error
	if appRunning {
		select {
		case err := <-appDone:
			errs = append(errs, err)
		case <-time.After(phaseTimeout):
			errs = append(errs, errors.New("the app function did not return after cancellation"))
		}
	}
	if started != nil {
		select {
		case <-started:
		case <-time.After(phaseTimeout):
			// Init still runs and holds the host: skip Shutdown.
			return errors.Join(append(errs, errors.New("components still starting after cancellation"))...)
		}
	}
	drainCtx, cancel := context.WithTimeout(context.Background(), phaseTimeout)
	errs = append(errs, server.Shutdown(drainCtx))
	cancel()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), phaseTimeout)
	errs = append(errs, h.Shutdown(shutdownCtx))
	cancel()
	return errors.Join(errs...)
}

// listenRPC listens on "unix:/path" or "tcp:host:port" and returns the
// address in the same form, with the port resolved. The supervisor removes
// a socket file left by a killed predecessor before starting the process.
func listenRPC(spec string) (net.Listener, string, error) {
	network, addr, ok := strings.Cut(spec, ":")
	if !ok || (network != "unix" && network != "tcp") {
		return nil, "", fmt.Errorf("bad RPC address %q: want unix:/path or tcp:host:port", spec)
	}
	l, err := net.Listen(network, addr)
	if err != nil {
		return nil, "", fmt.Errorf("rpc listen: %w", err)
	}
	return l, network + ":" + l.Addr().String(), nil
}

// codegenName returns the registered full name of interface t.
func codegenName(t reflect.Type) string {
	if i, ok := codegen.Find(t); ok {
		return i.Name
	}
	return ""
}
