package envelope

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/telemetry"
	"github.com/pilotage/pilotage/internal/envelope"
)

// Timings of the envelope.
const (
	pingInterval = 2 * time.Second
	// A runtime that leaves pings unanswered this long fails /healthz.
	pingDeadline = 10 * time.Second
	// drainDelay is how long a terminating pod keeps serving after it
	// turned not ready, so that callers' EndpointSlice watches drop it
	// before it stops taking calls.
	drainDelay = 3 * time.Second
	// stopTimeout bounds the runtime's own shutdown after Stop; the
	// pod's grace period (layout) leaves room for both.
	stopTimeout = 20 * time.Second
	// waitLog is how often the wait for needed groups is reported.
	waitLog = 5 * time.Second
)

// Run is "pilotage kube-envelope": it runs the app of this pod until ctx
// is done (SIGTERM) or the app exits, and returns the app's exit status.
func Run(ctx context.Context, stderr io.Writer) (int, error) {
	s, err := layout.ReadSettings()
	if err != nil {
		return 1, err
	}
	pod := os.Getenv(layout.PodNameEnv)
	ns := os.Getenv(layout.PodNamespaceEnv)
	ip := os.Getenv(layout.PodIPEnv)
	if pod == "" || ns == "" || ip == "" {
		return 1, fmt.Errorf("$%s, $%s and $%s must be set (the downward API of the pod)", layout.PodNameEnv, layout.PodNamespaceEnv, layout.PodIPEnv)
	}
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return 1, fmt.Errorf("kubernetes client: %w", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return 1, fmt.Errorf("kubernetes client: %w", err)
	}
	e := &podEnvelope{s: s, pod: pod, ip: ip, log: stderr}
	e.logf("version %s, group %s, pod %s (%s)", s.Version, s.Group, pod, ip)
	if e.tel, err = startTelemetry(s, e.logf); err != nil {
		return 1, err
	}
	defer e.stopTelemetry()
	// Endpoints keep being watched while the app drains after SIGTERM.
	watchCtx, cancelWatch := context.WithCancel(context.Background())
	defer cancelWatch()
	if e.eps, err = watchEndpoints(watchCtx, cs, ns, s.App, s.Version); err != nil {
		return 1, err
	}
	hl, err := net.Listen("tcp", fmt.Sprintf(":%d", layout.HealthPort))
	if err != nil {
		return 1, fmt.Errorf("health server: %w", err)
	}
	go func() { _ = http.Serve(hl, e.healthHandler()) }() // ends with the process
	if err := e.awaitNeeds(ctx); err != nil {
		return 0, nil // terminated before starting: not a failure
	}
	if err := e.awaitStore(ctx); err != nil {
		if ctx.Err() != nil {
			return 0, nil
		}
		return 1, fmt.Errorf("coordination store: %w", err)
	}
	return e.runApp(ctx)
}

// podEnvelope is the state of one pod's envelope.
type podEnvelope struct {
	s   layout.Settings
	pod string
	ip  string
	log io.Writer
	eps *endpoints
	tel *telemetry.Hub // the replica's spans and metrics

	mu        sync.Mutex
	ready     bool      // the runtime sent Ready, and not Unhealthy since
	unhealthy string    // the runtime's last Unhealthy error, until it is ready again
	lastPong  time.Time // zero before the runtime's Hello
	draining  bool
	calls     envelope.CallHealth // the runtime's last, served at layout.CallHealthPath
}

func (e *podEnvelope) logf(format string, args ...any) {
	fmt.Fprintf(e.log, "pilotage: "+format+"\n", args...)
}

// awaitNeeds waits until every group this one calls has a ready pod.
func (e *podEnvelope) awaitNeeds(ctx context.Context) error {
	last := time.Time{}
	for {
		missing := e.eps.missing(e.s.Needs)
		if len(missing) == 0 {
			return nil
		}
		if time.Since(last) >= waitLog {
			e.logf("waiting for a ready pod of %s before starting", strings.Join(missing, ", "))
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-e.eps.changed:
		case <-time.After(time.Second):
		}
	}
}

// routes returns the Routes message for the current endpoints.
func (e *podEnvelope) routes() envelope.Routes {
	r := envelope.Routes{Routes: map[string][]string{}, Outages: map[string]envelope.Outage{}}
	for comp, svc := range e.s.Services {
		if addrs := e.eps.addresses(svc); len(addrs) > 0 {
			r.Routes[comp] = addrs
		} else if e.eps.isStopped(svc) {
			r.Outages[comp] = envelope.Outage{Reason: "stopped (pilotage stop)"}
		} else {
			r.Outages[comp] = envelope.Outage{Reason: "no ready pod of " + svc, Transient: true}
		}
	}
	return r
}

// runApp starts the app binary, talks to its runtime until ctx is done or
// it exits, and returns its exit status.
func (e *podEnvelope) runApp(ctx context.Context) (int, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return 1, fmt.Errorf("socketpair: %w", err)
	}
	parent, child := os.NewFile(uintptr(fds[0]), "envelope"), os.NewFile(uintptr(fds[1]), "runtime")
	conn, err := net.FileConn(parent)
	parent.Close()
	if err != nil {
		child.Close()
		return 1, fmt.Errorf("envelope socket: %w", err)
	}
	cmd := exec.Command(layout.AppPath)
	cmd.Dir = filepath.Dir(layout.AppPath)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{child} // fd 3
	cmd.Env = append(os.Environ(), envelope.EnvVar+"=3")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	child.Close()
	if err != nil {
		conn.Close()
		return 1, fmt.Errorf("start %s: %w", layout.AppPath, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	ec := envelope.NewConn(conn, envelope.Deployer)
	defer ec.Close()
	if err := ec.Send(e.init()); err != nil {
		return 1, fmt.Errorf("send init: %w", err)
	}
	if err := ec.Send(e.routes()); err != nil {
		return 1, fmt.Errorf("send routes: %w", err)
	}
	go e.read(ec)
	ping := time.NewTicker(pingInterval)
	defer ping.Stop()
	var seq uint64
	for {
		select {
		case err := <-exited:
			return exitStatus(err), nil
		case <-e.eps.changed:
			if err := ec.Send(e.routes()); err != nil {
				e.logf("send routes: %v", err)
			}
		case <-ping.C:
			seq++
			_ = ec.Send(envelope.Ping{Seq: seq}) // a dead runtime shows in exited
		case <-ctx.Done():
			return e.drain(ec, cmd, exited), nil
		}
	}
}

// init is the runtime's Init for this pod.
func (e *podEnvelope) init() envelope.Init {
	in := envelope.Init{
		App:          e.s.App,
		Deployment:   e.s.Version,
		Group:        e.s.Group,
		Replica:      e.pod,
		Components:   e.s.Components,
		Listeners:    e.s.Listeners,
		RPCListen:    fmt.Sprintf("tcp::%d", layout.RPCPort),
		RPCAdvertise: "tcp:" + net.JoinHostPort(e.ip, strconv.Itoa(layout.RPCPort)),
		Health:       envelope.DefaultHealth,
		Coordination: e.s.Coordination,
		Telemetry:    e.tel.Init(),
	}
	if e.s.Config {
		in.ConfigPath = filepath.Join(layout.ConfigDir, layout.ConfigFile)
	}
	return in
}

// read handles the runtime's messages until the socket closes.
func (e *podEnvelope) read(ec *envelope.Conn) {
	for {
		m, err := ec.Receive()
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				e.logf("envelope: %v", err)
			}
			return
		}
		if e.tel.Handle(e.pod, m) {
			continue
		}
		e.mu.Lock()
		switch m := m.(type) {
		case envelope.Hello:
			e.lastPong = time.Now()
		case envelope.Pong:
			e.lastPong = time.Now()
		case envelope.Ready:
			if !e.ready {
				e.logf("ready")
			}
			e.ready, e.unhealthy = true, ""
		case envelope.Unhealthy:
			e.ready, e.unhealthy = false, m.Error
			e.logf("unhealthy: %s", m.Error)
		case envelope.Failed:
			e.logf("the app failed: %s", m.Error)
		case envelope.Listening:
			e.logf("listener %s on %s", m.Listener, m.Address)
		case envelope.CallHealth:
			e.calls = m
			e.logf("%s", callHealthLine(m))
		}
		e.mu.Unlock()
	}
}

// drain stops the app after SIGTERM: not ready at once, Stop after
// drainDelay, SIGKILL after stopTimeout more.
func (e *podEnvelope) drain(ec *envelope.Conn, cmd *exec.Cmd, exited <-chan error) int {
	e.mu.Lock()
	e.draining = true
	e.mu.Unlock()
	e.logf("terminating: leaving the endpoints, then stopping in %s", drainDelay)
	// What only one replica may do passes to another now, not when this
	// one stops.
	if err := ec.Send(envelope.Drain{}); err != nil {
		e.logf("send drain: %v", err)
	}
	select {
	case err := <-exited:
		return exitStatus(err)
	case <-time.After(drainDelay):
	}
	if err := ec.Send(envelope.Stop{}); err != nil {
		e.logf("send stop: %v", err)
	}
	select {
	case err := <-exited:
		return exitStatus(err)
	case <-time.After(stopTimeout):
		e.logf("the app did not stop within %s: killing it", stopTimeout)
		_ = cmd.Process.Kill()
		return exitStatus(<-exited)
	}
}

// exitStatus is the status to exit with for the app's Wait error.
func exitStatus(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ee.ExitCode() >= 0 {
			return ee.ExitCode()
		}
		return 128 + int(ee.Sys().(syscall.WaitStatus).Signal())
	default:
		return 1
	}
}

// callHealthLine sums up a CallHealth for the pod's log.
func callHealthLine(m envelope.CallHealth) string {
	if len(m.Components) == 0 {
		return "calls: every replica called is healthy again"
	}
	var parts []string
	for _, c := range slices.Sorted(maps.Keys(m.Components)) {
		h := m.Components[c]
		part := fmt.Sprintf("%s: %d replicas ejected (%s)", c, len(h.Ejected), strings.Join(h.Ejected, ", "))
		if h.Open {
			part += ", circuit open"
		}
		parts = append(parts, part)
	}
	return "calls: " + strings.Join(parts, "; ")
}
