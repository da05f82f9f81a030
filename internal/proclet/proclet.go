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

// How long Run waits for things the supervisor should provide promptly.
const (
	firstRoutesTimeout = 10 * time.Second
	drainTimeout       = 10 * time.Second
	healthInterval     = time.Second
)

// Run hosts the components env names until the supervisor sends Stop or goes
// away, or ctx is done, and then drains and shuts them down.
func Run(ctx context.Context, env Env, opts Options) (err error) {
	ctl, err := openControl()
	if err != nil {
		return err
	}
	defer ctl.Close()
	defer func() {
		if err != nil {
			ctl.send(Message{Type: Failed, Error: err.Error()}) // best effort: the socket may be gone
		}
	}()
	msgs := make(chan Message, 16)
	go ctl.receive(msgs)

	routes := newRouter()
	select {
	case m, ok := <-msgs:
		if !ok {
			return errors.New("supervisor closed the control socket before sending routes")
		}
		if m.Type == Routes {
			routes.update(m.Routes)
		}
	case <-time.After(firstRoutesTimeout):
		return errors.New("no routes from the supervisor")
	case <-ctx.Done():
		return ctx.Err()
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
	go server.Serve(l)
	defer server.Close()
	if err := ctl.send(Message{Type: Hello, PID: os.Getpid(), Address: addr}); err != nil {
		return err
	}

	hosted := map[string]bool{}
	for _, c := range env.Components {
		hosted[c] = true
	}
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
			ctl.send(Message{Type: Listening, Listener: name, Address: a.String()})
		},
		OnStarting: func(c string) { ctl.send(Message{Type: ComponentStarting, Component: c}) },
		OnReady:    func(c string) { ctl.send(Message{Type: ComponentReady, Component: c}) },
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer func() {
		// Drain first so no new call reaches a component being shut down.
		sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), drainTimeout)
		defer scancel()
		err = errors.Join(err, server.Shutdown(sctx), h.Shutdown(sctx))
	}()
	if err := h.StartAll(ctx); err != nil {
		return err
	}
	if err := waitHealthy(ctx, h); err != nil {
		return err
	}
	if err := ctl.send(Message{Type: Ready}); err != nil {
		return err
	}

	appDone := make(chan error, 1)
	if hosted[codegenName(opts.Main)] && opts.App != nil {
		main, err := h.Instance(ctx, opts.Main)
		if err != nil {
			return err
		}
		go func() { appDone <- opts.App(ctx, main) }()
	}
	health := time.NewTicker(healthInterval)
	defer health.Stop()
	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				return errors.New("supervisor went away")
			}
			switch m.Type {
			case Routes:
				routes.update(m.Routes)
			case Stop:
				return nil
			}
		case err := <-appDone:
			return err
		case <-health.C:
			if err := h.Health(ctx); err != nil {
				ctl.send(Message{Type: Unhealthy, Error: err.Error()})
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// waitHealthy waits until every hosted component's health check passes.
func waitHealthy(ctx context.Context, h *host.Host) error {
	for {
		err := h.Health(ctx)
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

// listenRPC listens on "unix:/path" or "tcp:host:port" and returns the
// address in the same form, with the port resolved.
func listenRPC(spec string) (net.Listener, string, error) {
	network, addr, ok := strings.Cut(spec, ":")
	if !ok || (network != "unix" && network != "tcp") {
		return nil, "", fmt.Errorf("bad RPC address %q: want unix:/path or tcp:host:port", spec)
	}
	if network == "unix" {
		os.Remove(addr) // a socket left by a killed predecessor
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
