package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/state"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/telemetry"
	"github.com/pilotage/pilotage/internal/config"
	"github.com/pilotage/pilotage/internal/envelope"
	"github.com/pilotage/pilotage/internal/graph"
)

// Default timeouts and limits.
const (
	DefaultStopTimeout     = 10 * time.Second // Stop message -> SIGTERM
	DefaultKillTimeout     = 5 * time.Second  // SIGTERM -> SIGKILL
	DefaultStartLimit      = 5                // restarts of one replica within DefaultStartInterval...
	DefaultStartInterval   = 30 * time.Second
	DefaultRestartCooldown = 30 * time.Second // ...then it waits this long
)

// DefaultMaxProcesses is the most processes an app may ask for on this
// machine unless Options.MaxProcesses says otherwise: 64 per CPU.
func DefaultMaxProcesses() int { return 64 * runtime.NumCPU() }

// DefaultMaxStarting is how many processes start at once by default: more
// wait their turn, so a large app starts at a pace the machine takes.
func DefaultMaxStarting() int { return max(8, 4*runtime.NumCPU()) }

// Options configure a Supervisor.
type Options struct {
	App        string       // application name
	Binary     string       // the application binary
	Dir        string       // working directory of the processes
	Config     *config.File // nil for none
	ConfigPath string       // passed to proclets; may be empty
	StateDir   string       // see state.StateDir
	// Lock is the single-instance lock of StateDir (state.Lock) if the
	// caller took it; Run then releases it when it returns. If nil, Run
	// takes it.
	Lock *os.File
	// Coordination is the start of the app's coordination store, if the
	// caller began it (StartCoordination, once it held Lock); Run stops
	// it. If nil, Run starts it.
	Coordination *CoordinationStart

	// Description of the application; if nil, New reads the component
	// graph embedded in the binary (without running it) and checks Config
	// against it.
	Description *graph.Graph

	Stdout io.Writer // prefixed output of every process, and the supervisor's
	Stderr io.Writer // told once if writing to Stdout fails; may be nil
	Color  bool      // colour the prefixes (Stdout is a terminal)
	Logs   LogSink   // also stores every line; may be nil

	// Shim is the program that runs each unit under a shim (see
	// ShimCommand); it must call RunShim first thing. Default: the running
	// executable.
	Shim string

	// RPCNetwork is how replicas serve each other's calls: "unix" (the
	// default, "" too) on a socket in StateDir, or "tcp" on a free loopback
	// port, as replicas do between pods on Kubernetes (to measure or test
	// that path on one machine).
	RPCNetwork string

	Env         []string // added to the environment of proclets
	StopTimeout time.Duration
	KillTimeout time.Duration

	// MaxProcesses bounds the processes (replicas of every group, and
	// units) the app may ask for: 0 means DefaultMaxProcesses, a negative
	// number no bound. MaxStarting bounds those starting at once (0:
	// DefaultMaxStarting).
	MaxProcesses, MaxStarting int

	// Liveness of proclets: a ping every PingInterval; silent for
	// UnresponsiveAfter, a replica is taken out of routing; silent for
	// KillUnresponsiveAfter, it is killed and replaced. Zero values mean
	// the defaults (DefaultPingInterval, ...).
	PingInterval, UnresponsiveAfter, KillUnresponsiveAfter time.Duration
}

// A Supervisor runs one application; see the package documentation.
type Supervisor struct {
	opts          Options
	shimPath      string
	plan          *Plan
	binStamp      binStamp // of opts.Binary when its build was last checked (checkBinary)
	out           *output
	startLimit    int
	startInterval time.Duration
	cooldown      time.Duration // after the start limit
	maxStarting   int
	ready         chan struct{} // closed when the app is first ready
	finished      chan struct{} // closed when shutdown completed
	mainDone      chan struct{} // closed when every main replica returned
	bg, pumps     sync.WaitGroup

	mu           sync.Mutex
	nodes        []*node // in plan order
	byName       map[string]*node
	started      time.Time
	readyAt      time.Time
	shutting     bool
	finishedOnce bool
	proxies      []*proxy
	lastRoutes   envelope.Routes // as last pushed, see updateRouting
	coord        *coordination   // the coordination store, once ready (awaitCoordination)
	calls        callConns       // connections of operators' calls (call.go)

	changes chan struct{} // signaled by notifyChange, for the control API

	// The coordination store's start: the caller's
	// (Options.Coordination), or New's if the caller holds the state
	// directory's lock, else Run's; see coordination.go.
	coordStart   *CoordinationStart
	coordStopped atomic.Bool
	// usesCoord: the binary links the coordination API. Otherwise its
	// processes need not wait for the store (it serves operators only),
	// and the app runs even if the store does not start.
	usesCoord bool
	// compConfig is the configuration section of each component that
	// has one, as JSON, by full name (componentConfigs).
	compConfig map[string]json.RawMessage
	// tel takes the processes' spans and metrics; Run connects it to the
	// collector and the metrics' endpoint (startTelemetry).
	tel *telemetry.Hub
	// The hub's Source answers the control API's telemetry routes.
	control.TelemetrySource
}

// New describes and lays out the application; nothing is started yet
// (but the coordination store, if the caller started it: see
// Options.Coordination).
func New(ctx context.Context, opts Options) (*Supervisor, error) {
	if opts.App == "" || opts.Binary == "" || opts.StateDir == "" {
		return nil, errors.New("supervisor: App, Binary and StateDir are required")
	}
	if opts.RPCNetwork != "" && opts.RPCNetwork != "unix" && opts.RPCNetwork != "tcp" {
		return nil, fmt.Errorf("supervisor: RPCNetwork %q: want unix or tcp", opts.RPCNetwork)
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = DefaultStopTimeout
	}
	if opts.KillTimeout <= 0 {
		opts.KillTimeout = DefaultKillTimeout
	}
	if opts.Config == nil {
		opts.Config = config.Empty()
	}
	if opts.MaxStarting <= 0 {
		opts.MaxStarting = DefaultMaxStarting()
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = DefaultPingInterval
	}
	if opts.UnresponsiveAfter <= 0 {
		opts.UnresponsiveAfter = DefaultUnresponsiveAfter
	}
	if opts.KillUnresponsiveAfter <= 0 {
		opts.KillUnresponsiveAfter = DefaultKillUnresponsiveAfter
	}
	coordStart := opts.Coordination
	stamp, err := stampOf(opts.Binary) // before reading: a change meanwhile is seen at the first spawn
	if err != nil {
		return nil, fmt.Errorf("the application binary: %w", err)
	}
	bin, err := readBinary(opts.Binary, opts.Description == nil)
	if err != nil {
		return nil, err
	}
	desc := opts.Description
	if desc == nil {
		if err := CheckConfig(bin.graph, opts.Config); err != nil {
			return nil, err
		}
		desc = bin.graph
	}
	plan, err := NewPlan(opts.App, desc, opts.Config)
	if err != nil {
		return nil, err
	}
	plan.Deployment = deploymentID(opts.App, bin.hash)
	if err := plan.CheckUnitCommands(opts.Dir); err != nil {
		return nil, err
	}
	if err := checkProcessCount(plan, opts.MaxProcesses); err != nil {
		return nil, err
	}
	shimPath := opts.Shim
	if shimPath == "" && slices.ContainsFunc(plan.Nodes, (*Node).IsUnit) {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("supervisor: the shim of units: %w", err)
		}
		shimPath = exe
	}
	s := &Supervisor{
		opts:          opts,
		shimPath:      shimPath,
		plan:          plan,
		binStamp:      stamp,
		startLimit:    opts.Config.Run.StartLimit,
		startInterval: opts.Config.Run.StartInterval.Duration,
		cooldown:      DefaultRestartCooldown,
		maxStarting:   opts.MaxStarting,
		ready:         make(chan struct{}),
		finished:      make(chan struct{}),
		mainDone:      make(chan struct{}),
		byName:        map[string]*node{},
		changes:       make(chan struct{}, 1),
		coordStart:    coordStart,
		usesCoord:     LinksCoord(opts.Binary),
		tel:           telemetry.NewHub(opts.Config.Telemetry, opts.App, plan.Deployment),
	}
	s.TelemetrySource = s.tel.Source()
	if s.startLimit <= 0 {
		s.startLimit = DefaultStartLimit
	}
	if s.startInterval <= 0 {
		s.startInterval = DefaultStartInterval
	}
	if d := opts.Config.Run.RestartCooldown.Duration; d > 0 {
		s.cooldown = d
	}
	width := 0
	for i, pn := range plan.Nodes {
		n := &node{Node: pn, order: i}
		for r := range pn.Replicas {
			n.slots = append(n.slots, &slot{node: n, index: r, state: stateStopped})
		}
		w := len(pn.Name)
		if !pn.IsUnit() {
			w += 1 + len(fmt.Sprint(pn.Replicas-1))
		}
		width = max(width, w)
		s.nodes = append(s.nodes, n)
		s.byName[n.Name] = n
	}
	for _, n := range s.nodes {
		for _, d := range n.Deps {
			n.deps = append(n.deps, s.byName[d])
			s.byName[d].dependents = append(s.byName[d].dependents, n)
		}
	}
	s.out = newOutput(opts.Stdout, opts.Stderr, opts.Color, opts.Logs, width)
	if coordStart != nil {
		coordStart.log.out.Store(s.out)
	}
	s.compConfig = componentConfigs(plan, opts.Config, s.out.logf)
	return s, nil
}

// checkProcessCount refuses a plan of more processes than max (0: the
// default bound, negative: none).
func checkProcessCount(plan *Plan, max int) error {
	if max == 0 {
		max = DefaultMaxProcesses()
	}
	total := 0
	for _, n := range plan.Nodes {
		total += n.Replicas
	}
	if max > 0 && total > max {
		return fmt.Errorf("the configuration asks for %d processes, more than this machine should run (%d: 64 per CPU); lower the replicas in [run], or pass -force to run them anyway", total, max)
	}
	return nil
}

// Plan returns the layout of the application.
func (s *Supervisor) Plan() *Plan { return s.plan }

// Ready is closed once every replica of every component and unit has been
// ready at the same time, the first time.
func (s *Supervisor) Ready() <-chan struct{} { return s.ready }

// Run takes the single-instance lock, starts the listeners' proxies, the
// control API and every component and unit in dependency order, supervises
// them until ctx is done or the main component returns, then stops
// everything in reverse dependency order and returns.
func (s *Supervisor) Run(ctx context.Context) error {
	defer s.out.close()
	lock := s.opts.Lock
	if lock == nil {
		var err error
		if lock, err = state.Lock(s.opts.StateDir, s.opts.App); err != nil {
			return err
		}
	}
	defer lock.Close()
	if s.coordStart == nil {
		s.coordStart = StartCoordination(ctx, s.opts.App, s.opts.StateDir, s.opts.Config.Coordination)
		s.coordStart.log.out.Store(s.out)
	}
	defer s.stopCoordination() // before the lock is released
	if err := prepareSockDir(s.sockDir()); err != nil {
		return err
	}
	stopTelemetry, err := s.startTelemetry()
	if err != nil {
		return err
	}
	defer stopTelemetry() // once every process is gone: their last spans are in
	if err := s.startProxies(); err != nil {
		return err
	}
	defer s.closeProxies()
	srv, err := s.serveControl(lock) // the control API, and a watch on the state directory
	if err != nil {
		return err
	}
	defer srv.Close()

	// Processes start at once; their Init waits for the store if the app
	// uses it, and the app cannot run without it.
	coordFailed := make(chan error, 1)
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		switch err := s.awaitCoordination(ctx); {
		case err == nil:
		case s.usesCoord:
			coordFailed <- err
		case ctx.Err() == nil:
			s.out.logf("%v; the app does not use it, and runs without", err)
		}
	}()
	s.mu.Lock()
	s.started = time.Now()
	for _, n := range s.nodes {
		n.want = true
	}
	s.reconcile()
	s.mu.Unlock()

	var runErr error
	select {
	case <-ctx.Done():
		s.out.logf("stopping %s", s.opts.App)
	case <-s.mainDone:
		s.out.logf("the main component returned; stopping %s", s.opts.App)
	case runErr = <-coordFailed:
		if ctx.Err() != nil {
			runErr = nil // stopped while the store started
			s.out.logf("stopping %s", s.opts.App)
		} else {
			s.out.logf("%v; stopping %s", runErr, s.opts.App)
		}
	}
	s.mu.Lock()
	s.shutdown()
	s.mu.Unlock()
	<-s.finished
	s.bg.Wait()
	waitTimeout(&s.pumps, 2*time.Second) // a grandchild may hold a pipe open
	s.stopCoordination()                 // last: replicas used it until they exited
	s.out.logf("stopped")
	return runErr
}

// sockDir is the directory of the replicas' RPC sockets.
func (s *Supervisor) sockDir() string { return filepath.Join(s.opts.StateDir, "sock") }

// prepareSockDir creates dir, or, if an earlier run left it, removes the
// sockets in it, and only those.
func prepareSockDir(dir string) error {
	if err := state.PrepareDir(dir); err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	for _, e := range ents {
		if e.Type()&os.ModeSocket != 0 {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("state directory: %w", err)
			}
		}
	}
	return nil
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}
