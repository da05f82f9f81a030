// Package proclet is the part of the runtime that lives inside every
// application process a deployer starts: it hosts the components of one
// colocation group, serves them to other processes over the RPC transport,
// reaches the components of other groups through the routes the deployer
// pushes (one rpc.Resolver per component), and reports its lifecycle to
// the deployer. It speaks only the envelope protocol (internal/envelope),
// so it does not know which deployer started it: the supervisor of
// "pilotage run", or another.
package proclet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pilotage/pilotage/codegen"
	"github.com/pilotage/pilotage/internal/config"
	"github.com/pilotage/pilotage/internal/coordinfo"
	"github.com/pilotage/pilotage/internal/envelope"
	"github.com/pilotage/pilotage/internal/host"
	"github.com/pilotage/pilotage/internal/rpc"
	"github.com/pilotage/pilotage/internal/telemetry"
)

// Options configure Run.
type Options struct {
	Main   reflect.Type                              // the Main interface type
	App    func(ctx context.Context, main any) error // called if Main is hosted here
	Logger *slog.Logger
}

// How long Run waits for things that should happen promptly.
const (
	firstRoutesTimeout = 10 * time.Second
	// Each phase of shutdown (the app function returning, in-flight calls
	// draining, components' Shutdown) gets this long.
	phaseTimeout = 10 * time.Second
)

// Run speaks the envelope protocol with the deployer over conn (see
// Connect): it reads Init, hosts the components Init names until the
// deployer sends Stop or goes away, or ctx is done, and then shuts down:
// the app function (if Main is hosted here) is cancelled and waited for,
// in-flight calls drain, then the components' Shutdown methods run,
// dependents first. The socket is read throughout, starting included, so
// routes stay current and a Stop or the deployer's death is acted on at
// once. Run closes conn.
func Run(ctx context.Context, conn io.ReadWriteCloser, opts Options) (err error) {
	ec := envelope.NewConn(conn, envelope.Runtime)
	defer ec.Close()
	defer func() {
		if err != nil {
			// Best effort: the deployer reads it as the reason of the exit
			// that follows, if the socket is still there.
			_ = ec.Send(envelope.Failed{Error: err.Error()})
		}
	}()
	m, err := ec.Receive()
	if err != nil {
		return fmt.Errorf("read init from the deployer: %w", endError(err))
	}
	init, ok := m.(envelope.Init)
	if !ok { // the Conn lets only an Init through first
		return fmt.Errorf("the deployer's first message is %s, want init", m.MessageType())
	}
	return run(ctx, ec, init, opts)
}

func run(ctx context.Context, ec *envelope.Conn, init envelope.Init, opts Options) (err error) {
	// Spans and metrics go to the deployer until the very end: the calls
	// drained at shutdown (deferred below, so run before this) are counted.
	tel, err := telemetry.Start(init.Telemetry, ec.Send)
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), phaseTimeout)
		defer cancel()
		err = errors.Join(err, tel.Shutdown(ctx))
	}()
	// Every RPC connection, both ways, is refused unless both ends run
	// the deployment Init names.
	routes := newRouter(rpc.DialOptions{Deployment: init.Deployment}, tel)
	defer routes.close()
	events := make(chan event, 2) // a Stop and the end: see receive
	firstRoutes := make(chan struct{})
	var once sync.Once
	go receive(ec, events, func(m envelope.Routes) {
		routes.update(m)
		once.Do(func() { close(firstRoutes) })
	})
	// Before any component starts: coord.Open reads it.
	if err := setCoordination(init); err != nil {
		return err
	}
	cfg := config.Empty()
	if init.ConfigPath != "" {
		if cfg, err = config.Read(init.ConfigPath); err != nil {
			return err
		}
	}
	routes.policy = newCallPolicy(cfg) // before any caller: host.New makes them
	server := rpc.NewServer(rpc.ServerOptions{Deployment: init.Deployment, MaxInFlight: cfg.MaxInFlight})
	l, bound, err := listenRPC(init.RPCListen)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- server.Serve(l) }()
	defer server.Close()
	advertised, err := advertise(init.RPCAdvertise, bound)
	if err != nil {
		return err
	}
	if err := ec.Send(envelope.Hello{PID: os.Getpid(), RPCAddress: advertised, Build: build()}); err != nil {
		return err
	}
	if err := awaitRoutes(ctx, events, firstRoutes); err != nil {
		if errors.Is(err, errStoppedBeforeStart) {
			return nil // an ordinary stop, not a failure
		}
		return err
	}

	hosted := map[string]bool{}
	for _, c := range init.Components {
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
		Serve: func(c codegen.Component, hs []codegen.Handler) error {
			return server.Register(c.Name, tel.Handlers(c, hs))
		},
		WrapListener: tel.Listener,
		ListenerAddress: func(name string) string {
			if a := init.Listeners[name]; a != "" {
				return a
			}
			return "127.0.0.1:0"
		},
		OnListen: func(name string, a net.Addr) {
			_ = ec.Send(envelope.Listening{Listener: name, Address: a.String()})
		},
		OnStarting: func(c string) { _ = ec.Send(envelope.ComponentStarting{Component: c, Time: time.Now()}) },
		OnReady:    func(c string) { _ = ec.Send(envelope.ComponentReady{Component: c, Time: time.Now()}) },
	})
	if err != nil {
		return err
	}

	health := healthSettings(init.Health)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	started := make(chan error, 1)
	go func() { started <- startAll(ctx, h, time.Duration(health.Timeout)) }()
	appDone := make(chan error, 1)
	appRunning := false
	defer func() {
		cancel()
		err = errors.Join(err, shutdown(h, server, started, appDone, appRunning))
	}()

	for {
		select {
		case e := <-events:
			if e.stop {
				return nil
			}
			return endError(e.err)
		case err := <-started:
			started = nil // started, or failed: either way not waited for again
			if err != nil {
				return err
			}
			if err := serveJSON(ctx, h, server, hosted); err != nil {
				return err
			}
			if err := ec.Send(envelope.Ready{}); err != nil {
				return err
			}
			go monitorHealth(ctx, h, ec, health)
			go reportCallHealth(ctx, ec, routes)
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
				if err := ec.Send(envelope.AppDone{}); err != nil {
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

// setCoordination records the coordination store Init names for the
// coordination library of this process. Without one, nothing is recorded
// and the library uses an in-memory store of this process.
func setCoordination(init envelope.Init) error {
	c := init.Coordination
	if c == nil {
		return nil
	}
	if len(c.Endpoints) == 0 || slices.Contains(c.Endpoints, "") {
		return fmt.Errorf("the deployer names a coordination store without endpoints (%q)", c.Endpoints)
	}
	if c.Prefix == "" {
		return errors.New("the deployer names a coordination store without a key prefix")
	}
	coordinfo.Set(coordinfo.Info{
		Endpoints: c.Endpoints, Prefix: c.Prefix, TTL: time.Duration(c.TTL),
		App: init.App, Deployment: init.Deployment, Replica: init.Replica,
	})
	return nil
}

// errStoppedBeforeStart is awaitRoutes' error for a Stop that came first.
var errStoppedBeforeStart = errors.New("stopped before starting")

// awaitRoutes waits for the deployer's first Routes message.
func awaitRoutes(ctx context.Context, events <-chan event, firstRoutes <-chan struct{}) error {
	timeout := time.NewTimer(firstRoutesTimeout)
	defer timeout.Stop()
	select {
	case <-firstRoutes:
		return nil
	case e := <-events:
		if e.stop {
			return errStoppedBeforeStart
		}
		return fmt.Errorf("before the first routes: %w", endError(e.err))
	case <-timeout.C:
		return fmt.Errorf("no routes from the deployer within %s of init", firstRoutesTimeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startAll starts the hosted components and waits until they are healthy.
func startAll(ctx context.Context, h *host.Host, healthTimeout time.Duration) error {
	if err := h.StartAll(ctx); err != nil {
		return err
	}
	for {
		err := checkHealth(ctx, h, healthTimeout)
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
// bound address in the same form, with the port resolved. The deployer
// removes a socket file left by a killed predecessor before starting the
// process.
func listenRPC(spec string) (net.Listener, string, error) {
	network, addr, ok := strings.Cut(spec, ":")
	if !ok || (network != "unix" && network != "tcp") {
		return nil, "", fmt.Errorf("bad rpc_listen %q: want unix:/path or tcp:host:port", spec)
	}
	l, err := net.Listen(network, addr)
	if err != nil {
		return nil, "", fmt.Errorf("rpc listen: %w", err)
	}
	return l, network + ":" + l.Addr().String(), nil
}

// advertise returns the address other replicas dial: the deployer's, or
// else the bound one, which must then name a host ("tcp:[::]:10000" would
// reach whoever dials it, never this process).
func advertise(advertised, bound string) (string, error) {
	if advertised != "" {
		return advertised, nil
	}
	if hostPort, ok := strings.CutPrefix(bound, "tcp:"); ok {
		h, _, err := net.SplitHostPort(hostPort)
		if ip := net.ParseIP(h); err != nil || ip == nil || ip.IsUnspecified() {
			return "", fmt.Errorf("rpc server bound %s, which others cannot dial: the deployer must say what they dial (rpc_advertise)", bound)
		}
	}
	return bound, nil
}

// build describes the running binary for Hello: its VCS revision if it
// was built in a repository, else its main module's version.
func build() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+dirty"
			}
		}
	}
	if rev != "" {
		return rev + modified
	}
	return info.Main.Path + "@" + info.Main.Version
}

// codegenName returns the registered full name of interface t.
func codegenName(t reflect.Type) string {
	if i, ok := codegen.Find(t); ok {
		return i.Name
	}
	return ""
}
