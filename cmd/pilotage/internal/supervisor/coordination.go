package supervisor

import (
	"cmp"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/coordserver"
	"github.com/pilotage/pilotage/coord"
	"github.com/pilotage/pilotage/internal/config"
	"github.com/pilotage/pilotage/internal/coordinfo"
	"github.com/pilotage/pilotage/internal/envelope"
)

// coordConnectTimeout bounds reaching the store at startup: an external
// endpoint not answering within it is a startup error. A variable for
// tests.
var coordConnectTimeout = 5 * time.Second

// revokeTimeout bounds revoking the sessions of one process that exited,
// and those a previous run left, all replicas together.
const revokeTimeout = 2 * time.Second

// supervisorReplica is the replica name of the supervisor's own session
// in the store; replicas of the app are "<group>/<index>".
const supervisorReplica = "supervisor"

// A coordination is the app's coordination store, as the supervisor runs
// it: an etcd server it embeds, or an external cluster, and its own client.
type coordination struct {
	embedded  *coordserver.Server // nil for an external store
	endpoints []string
	prefix    string
	ttl       time.Duration
	// client is the supervisor's session, which revokes the sessions of
	// processes that exited; nil if it could not connect to the embedded
	// store (their sessions then end with their TTL).
	client *coord.Store
	// view shows the store in the control API (coordview.go); nil
	// without a client.
	view atomic.Pointer[coordView]
}

// A CoordinationStart is a start of an app's coordination store under
// way (StartCoordination), for New to take (Options.Coordination).
type CoordinationStart struct {
	done  chan struct{} // closed once c and err are set
	c     *coordination
	err   error
	begun time.Time
	took  time.Duration // from begun until the store served and the client connected
	log   *coordLog

	closeOnce sync.Once
	closeErr  error
}

// StartCoordination starts the coordination store of app in the
// background: the etcd server in <stateDir>/etcd, unless cfg names
// external endpoints, and the supervisor's client of it. The caller must
// hold stateDir's lock (state.Lock), and hand the start to New
// (Options.Coordination), whose Run stops the store; if New is not
// reached or fails, the caller Closes it. Starting it first thing, while
// the app builds, takes it off the path to the app's readiness.
func StartCoordination(ctx context.Context, app, stateDir string, cfg config.Coordination) *CoordinationStart {
	cs := &CoordinationStart{done: make(chan struct{}), begun: time.Now(), log: &coordLog{}}
	go func() {
		defer close(cs.done)
		cs.c, cs.err = openCoordination(ctx, app, stateDir, cfg, cs.log.log)
		cs.took = time.Since(cs.begun)
	}()
	return cs
}

func openCoordination(ctx context.Context, app, stateDir string, cfg config.Coordination, log func(string)) (*coordination, error) {
	c := &coordination{endpoints: cfg.Endpoints, prefix: coordinfo.AppPrefix(app), ttl: cfg.TTL.Duration}
	if len(c.endpoints) == 0 {
		srv, err := coordserver.Start(ctx, coordserver.Options{Dir: filepath.Join(stateDir, "etcd"), Log: log})
		if err != nil {
			return nil, err
		}
		c.embedded, c.endpoints = srv, []string{srv.Endpoint()}
	}
	ctx, cancel := context.WithTimeout(ctx, coordConnectTimeout)
	defer cancel()
	client, err := coord.Connect(ctx, coord.Options{
		Endpoints: c.endpoints, Prefix: c.prefix, Replica: supervisorReplica, PID: os.Getpid(),
		TTL: c.ttl, DialTimeout: coordConnectTimeout,
	})
	switch {
	case err == nil:
		c.client = client
	case c.embedded == nil:
		return nil, fmt.Errorf("coordination store at %s ([coordination] endpoints): %w", strings.Join(c.endpoints, ", "), err)
	default:
		// The store serves the app; only the revocation of crashed
		// replicas' sessions is lost.
		log(fmt.Sprintf("coordination store: the supervisor's client: %v; the sessions of a replica that crashes will end with their TTL", err))
	}
	return c, nil
}

// wait waits until the start is over, or ctx is done.
func (cs *CoordinationStart) wait(ctx context.Context) (*coordination, error) {
	select {
	case <-cs.done:
		return cs.c, cs.err
	case <-ctx.Done():
		return nil, fmt.Errorf("coordination store: %w", ctx.Err())
	}
}

// Close waits for the start to end, and stops what it started. It may be
// called more than once.
func (cs *CoordinationStart) Close() error {
	cs.closeOnce.Do(func() {
		<-cs.done
		if cs.c != nil {
			cs.closeErr = cs.c.close()
		}
	})
	return cs.closeErr
}

// close closes the supervisor's client, then stops the embedded server:
// a client's open stream would hold the server's stop back.
func (c *coordination) close() error {
	c.view.Load().close() // it reads with the client
	var errs []error
	if c.client != nil {
		errs = append(errs, c.client.Close())
	}
	if c.embedded != nil {
		errs = append(errs, c.embedded.Close())
	}
	return errors.Join(errs...)
}

// where describes the store for a log line.
func (c *coordination) where() string {
	if c.embedded != nil {
		return "embedded at " + c.embedded.Endpoint()
	}
	return "at " + strings.Join(c.endpoints, ", ")
}

// envelope returns the store as Init names it to every proclet (nil
// for none).
func (c *coordination) envelope() *envelope.Coordination {
	if c == nil {
		return nil
	}
	return &envelope.Coordination{Endpoints: c.endpoints, Prefix: c.prefix, TTL: envelope.Duration(c.ttl)}
}

// status returns the store as the app's status shows it (nil for none
// yet).
func (c *coordination) status() *api.CoordinationStatus {
	if c == nil {
		return nil
	}
	return &api.CoordinationStatus{Embedded: c.embedded != nil, Endpoints: c.endpoints, Prefix: c.prefix}
}

// awaitCoordination waits for the coordination store, revokes the
// sessions a previous run of the app left, and then sends every proclet
// started meanwhile its Init, which names the store. Nothing of this run
// has had an Init yet, so every session of its replicas' names is stale,
// and must go before a new replica of the same name opens its own.
func (s *Supervisor) awaitCoordination(ctx context.Context) error {
	c, err := s.coordStart.wait(ctx)
	if err != nil {
		return err
	}
	took := fmt.Sprintf("ready in %s", s.coordStart.took.Round(time.Millisecond))
	if c.embedded != nil {
		took += fmt.Sprintf(" (the server in %s)", c.embedded.ReadyIn().Round(time.Millisecond))
	}
	s.out.logf("coordination store %s, %s", c.where(), took)
	if c.client != nil {
		var replicas []string
		for _, n := range s.nodes { // the layout, which never changes
			if !n.IsUnit() {
				for _, sl := range n.slots {
					replicas = append(replicas, sl.source())
				}
			}
		}
		if err := s.revokeStale(ctx, c.client, replicas); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.coord = c
	c.view.Store(s.watchCoordination(c))
	for _, n := range s.nodes {
		for _, sl := range n.slots {
			if p := sl.p; p != nil && p.heldInit != nil && !p.stopping {
				s.sendInit(p)
			}
		}
	}
	s.notifyChange() // the status shows the store
	return nil
}

// sendInit sends p its Init, naming the coordination store (if ready),
// and the routes, before which it starts no component. s.mu is held.
func (s *Supervisor) sendInit(p *proc) {
	init := *p.heldInit
	p.heldInit = nil
	init.Coordination = s.coord.envelope()
	p.conn.sendInit(init)
	p.conn.sendRoutes(s.routesMessage())
}

// revokeWorkers bounds the revocations at startup in flight at once.
const revokeWorkers = 16

// revokeStale revokes every session of replicas, concurrently, within
// revokeTimeout: a failure is logged, and the replicas start anyway (a
// stale session then ends with its TTL).
func (s *Supervisor) revokeStale(ctx context.Context, client *coord.Store, replicas []string) error {
	rctx, cancel := context.WithTimeout(ctx, revokeTimeout)
	defer cancel()
	var (
		mu     sync.Mutex
		total  int
		failed []string
		first  error
		wg     sync.WaitGroup
	)
	work := make(chan string)
	for range min(revokeWorkers, len(replicas)) {
		wg.Go(func() {
			for r := range work {
				n, err := client.RevokeReplica(rctx, r, 0)
				mu.Lock()
				total += n
				if err != nil {
					failed = append(failed, r)
					first = cmp.Or(first, err)
				}
				mu.Unlock()
			}
		})
	}
	for _, r := range replicas {
		work <- r
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("coordination store: %w", err) // Run's ctx: stopping
	}
	if total > 0 {
		s.out.logf("coordination store: revoked %d sessions a previous run left", total)
	}
	if len(failed) > 0 {
		s.out.logf("coordination store: could not revoke the sessions a previous run left of %d replicas (%s): %v; they end with their TTL", len(failed), strings.Join(failed[:min(3, len(failed))], ", "), first)
	}
	return nil
}

// revokeSessions revokes, in the background, the sessions of process pid
// of replica, which exited: the locks and leaderships it held pass on at
// once, not after their TTL. It is called the moment the exit is seen,
// before the process is reaped and its exit handled; s.mu is not held,
// and the store is called without it.
func (s *Supervisor) revokeSessions(replica string, pid int) {
	s.mu.Lock()
	c := s.coord
	s.mu.Unlock()
	if c == nil || c.client == nil {
		return // it never had its Init, so it has no session
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), revokeTimeout)
		defer cancel()
		if _, err := c.client.RevokeReplica(ctx, replica, pid); err != nil {
			s.out.logf("coordination store: revoke the sessions of %s (pid %d): %v", replica, pid, err)
		}
	}()
}

// stopCoordination stops the coordination store, once nothing of the app
// runs. It may be called more than once.
func (s *Supervisor) stopCoordination() {
	if s.coordStart == nil || !s.coordStopped.CompareAndSwap(false, true) {
		return
	}
	if err := s.coordStart.Close(); err != nil {
		s.out.logf("coordination store: stop: %v", err)
	}
}

// coordLog is where the embedded store's error lines go: the supervisor's
// output once it exists (it does not yet while the app builds, or New
// reads the binary), else stderr.
type coordLog struct{ out atomic.Pointer[output] }

func (l *coordLog) log(line string) {
	if o := l.out.Load(); o != nil {
		o.logf("%s", line)
		return
	}
	fmt.Fprintln(os.Stderr, "pilotage:", line)
}

// LinksCoord reports whether the binary at path links the coordination
// API, or cannot tell (no module information: a test binary, say), when
// it is assumed to.
func LinksCoord(path string) bool {
	info, err := buildinfo.ReadFile(path)
	if err != nil || len(info.Deps) == 0 {
		return true
	}
	for _, m := range info.Deps {
		if m.Path == coordModule {
			return true
		}
	}
	return info.Main.Path == coordModule
}

// coordModule is the coordination API's module.
const coordModule = "github.com/pilotage/pilotage/coord"
