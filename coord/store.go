package coord

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/pilotage/pilotage/coord/internal/backend"
	"github.com/pilotage/pilotage/coord/internal/etcdbackend"
	"github.com/pilotage/pilotage/coord/internal/membackend"
	"github.com/pilotage/pilotage/internal/coordinfo"
)

// Options configure Connect. Open takes them from the runtime.
type Options struct {
	// Endpoints of the etcd cluster: "unix:///path/etcd.sock",
	// "http://host:2379", "https://...". None: an in-memory store.
	Endpoints []string
	// Prefix is put before every key in etcd, so that apps can share a
	// cluster ("/pilotage/<app>/"). Required with Endpoints.
	Prefix string
	// Replica and PID identify the session to the deployer, which revokes
	// it when that process dies (see RevokeReplica). They default to the
	// program's name and this process's id.
	Replica string
	PID     int
	// TTL of the session's lease (default DefaultTTL); a holder that stops
	// renewing it (paused, partitioned) loses its locks within TTL. etcd
	// counts it in whole seconds (rounded up).
	TTL time.Duration
	// DialTimeout bounds reaching the store when the caller's context has
	// no earlier deadline (default 5s).
	DialTimeout time.Duration
}

// DefaultTTL is the default session lease time to live.
const DefaultTTL = 2 * time.Second

// defaultDialTimeout is Options.DialTimeout's default.
const defaultDialTimeout = 5 * time.Second

// A Store is a session with the app's coordination store. It is safe for
// concurrent use. Close releases its locks and leaderships.
type Store struct {
	b           backend.Backend
	ownsBackend bool   // Close closes b
	prefix      string // before every key in b
	replica     string
	pid         int
	ttl         time.Duration
	dialTimeout time.Duration

	// done is cancelled (cause ErrClosed) by Close; every call in
	// progress is cancelled with it.
	done   context.Context
	cancel context.CancelCauseFunc

	// sessionSem serializes starting a session.
	sessionSem chan struct{}

	// drained is cancelled when the deployer drains this process (see
	// drain.go); removeDrain unregisters the Store from that.
	drained     context.Context
	drainNow    context.CancelFunc
	removeDrain func()

	mu          sync.Mutex
	closed      bool
	session     *session              // current one; replaced once lost
	local       map[string]*localSlot // see localLock
	leaderships map[*hold]bool        // held, to resign on a drain

	schemas schemaCache
}

// Open connects to the store of the running app: the one the deployer
// named, or, in a single process, the process's in-memory store.
func Open(ctx context.Context) (*Store, error) {
	info, ok := coordinfo.Get()
	opts := Options{Prefix: info.Prefix, Replica: info.Replica, TTL: info.TTL}
	if !ok || len(info.Endpoints) == 0 {
		if opts.Prefix == "" {
			opts.Prefix = "/pilotage/local/"
		}
		return openStore(ctx, processMem(), false, opts)
	}
	if info.Prefix == "" {
		return nil, fmt.Errorf("coord: open: %w", invalid("the deployer's store", "has endpoints but no prefix"))
	}
	b, err := sharedEtcd(info.Endpoints)
	if err != nil {
		return nil, fmt.Errorf("coord: open: %w", err)
	}
	s, err := openStore(ctx, b, false, opts)
	if err != nil {
		return nil, err
	}
	// The deployer's store: the deployer may drain this process.
	s.removeDrain = coordinfo.OnDrain(s.drain)
	return s, nil
}

// openStore opens a Store on b, which it closes with the Store if it owns it
// (else b is shared with other Stores).
func openStore(ctx context.Context, b backend.Backend, owns bool, opts Options) (*Store, error) {
	s, err := newStore(b, owns, opts)
	if err != nil {
		if owns {
			b.Close()
		}
		return nil, err
	}
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// The backends Open shares between the Stores of a process: the
// in-memory store (one per process) and one etcd client per endpoint set.
var (
	processMem     = sync.OnceValue(membackend.New)
	sharedEtcdMu   sync.Mutex
	sharedEtcdList []sharedClient
)

type sharedClient struct {
	endpoints []string
	b         backend.Backend
}

func sharedEtcd(endpoints []string) (backend.Backend, error) {
	sharedEtcdMu.Lock()
	defer sharedEtcdMu.Unlock()
	for _, c := range sharedEtcdList {
		if slices.Equal(c.endpoints, endpoints) {
			return c.b, nil
		}
	}
	b, err := etcdbackend.New(etcdbackend.Config{Endpoints: endpoints, DialTimeout: defaultDialTimeout})
	if err != nil {
		return nil, err
	}
	sharedEtcdList = append(sharedEtcdList, sharedClient{slices.Clone(endpoints), b})
	return b, nil
}

// Connect opens a session with the store opts name. Deployers, operator
// tools and tests use it; components use Open.
func Connect(ctx context.Context, opts Options) (*Store, error) {
	var b backend.Backend
	if len(opts.Endpoints) == 0 {
		b = membackend.New()
	} else {
		if opts.Prefix == "" {
			return nil, invalid("options", "have endpoints but no prefix")
		}
		eb, err := etcdbackend.New(etcdbackend.Config{Endpoints: opts.Endpoints, DialTimeout: cmp.Or(opts.DialTimeout, defaultDialTimeout)})
		if err != nil {
			return nil, fmt.Errorf("coord: connect: %w", err)
		}
		b = eb
	}
	return openStore(ctx, b, true, opts)
}

func newStore(b backend.Backend, owns bool, opts Options) (*Store, error) {
	if opts.TTL < 0 || opts.DialTimeout < 0 {
		return nil, invalid("options", "have a negative duration")
	}
	if opts.Replica == "" {
		opts.Replica = filepath.Base(os.Args[0])
	}
	if opts.PID == 0 {
		opts.PID = os.Getpid()
	}
	s := &Store{
		b:           b,
		ownsBackend: owns,
		prefix:      opts.Prefix,
		replica:     opts.Replica,
		pid:         opts.PID,
		ttl:         cmp.Or(opts.TTL, DefaultTTL),
		dialTimeout: cmp.Or(opts.DialTimeout, defaultDialTimeout),
		sessionSem:  make(chan struct{}, 1),
		local:       map[string]*localSlot{},
		leaderships: map[*hold]bool{},
		removeDrain: func() {},
	}
	s.done, s.cancel = context.WithCancelCause(context.Background())
	s.drained, s.drainNow = context.WithCancel(context.Background())
	return s, nil
}

// start opens the Store's first session: it tells whether the store is
// reachable (an etcd client does not, by itself), within DialTimeout if
// ctx has no earlier deadline. On failure it closes s.
func (s *Store) start(ctx context.Context) error {
	ctx, cancel := s.dialContext(ctx)
	defer cancel()
	if _, err := s.currentSession(ctx); err != nil {
		s.Close()
		if errors.Is(err, ErrInvalid) {
			return err
		}
		return fmt.Errorf("coord: connect: %w", unavailable(err))
	}
	return nil
}

// dialContext bounds ctx by the dial timeout unless it ends earlier.
func (s *Store) dialContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= s.dialTimeout {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, s.dialTimeout)
}

// Close resigns every leadership, releases every lock and revokes the
// session. Calls in progress fail with ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	sess := s.session
	s.session = nil
	s.mu.Unlock()
	s.removeDrain()

	// Holders stop before the store lets anyone else in.
	s.cancel(ErrClosed)
	var errs []error
	if sess != nil {
		if err := sess.end(fmt.Errorf("%w: released by Close (%w)", ErrClosed, ErrNotHeld)); err != nil {
			errs = append(errs, err)
		}
	}
	if s.ownsBackend {
		if err := s.b.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("coord: close: %w", err)
	}
	return nil
}

// Revision returns the store's current revision.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	_, rev, err := s.b.Get(ctx, backend.Op{Kind: backend.OpGet, Key: s.prefix})
	if err != nil {
		return 0, s.fail(ctx, "revision", err)
	}
	return rev, nil
}

// callContext is ctx, also cancelled when the Store is closed.
func (s *Store) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	if s.done.Err() != nil {
		cancel(ErrClosed)
		return ctx, func() {}
	}
	stop := context.AfterFunc(s.done, func() { cancel(ErrClosed) })
	return ctx, func() { stop(); cancel(context.Canceled) }
}

// fail wraps the error of a call made with a callContext: ErrClosed if the
// Store was closed, the context's error if the caller's context ended,
// ErrUnavailable if the store could not be reached.
func (s *Store) fail(ctx context.Context, what string, err error) error {
	return fmt.Errorf("coord: %s: %w", what, callError(ctx, err))
}

// callError is the error of a call made with a callContext, unwrapped:
// ErrClosed if the Store was closed, else as unavailable says.
func callError(ctx context.Context, err error) error {
	if errors.Is(context.Cause(ctx), ErrClosed) {
		return ErrClosed
	}
	return unavailable(err)
}

// unavailable marks err, an error of the backend, as ErrUnavailable unless
// it is one the caller acts on (a cancelled context, or an error of ours).
func unavailable(err error) error {
	for _, known := range []error{context.Canceled, ErrInvalid, ErrClosed, ErrUnavailable, ErrCompacted} {
		if errors.Is(err, known) {
			return err
		}
	}
	if errors.Is(err, backend.ErrCompacted) {
		return fmt.Errorf("%w: %w", ErrCompacted, err)
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// key returns the backend key of a key of the keyspace.
func (s *Store) key(parts ...string) string {
	k := s.prefix
	for _, p := range parts {
		k += p
	}
	return k
}
