// Package coordserver runs the etcd server that "pilotage run" embeds as
// an app's coordination store (see github.com/pilotage/pilotage/coord):
// one member, its data in a directory of the app's state directory, so
// that config keys and fencing tokens survive a restart of the app, and
// reachable only through a Unix socket in that directory (mode 0700), so
// only the app's user can connect. It is tuned to be ready fast (a 5ms
// tick, a 25ms election timeout), keeps fsync on (a token must survive a crash of
// the machine), and logs only errors.
package coordserver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// DefaultStartTimeout bounds Start when its context has no earlier
// deadline.
const DefaultStartTimeout = 10 * time.Second

// Options configure Start.
type Options struct {
	// Dir holds the store's data and its client socket. It is created with
	// mode 0700 if missing; if it exists, it must be the user's and
	// closed to others.
	Dir string
	// Log receives the server's error messages, one line each; nil drops
	// them.
	Log func(line string)
}

// A Server is a running embedded etcd.
type Server struct {
	etcd     *embed.Etcd
	lock     *os.File // the flock on Dir
	endpoint string
	sockDir  string // a directory of ours for the socket if Dir's path was too long; else ""
	readyIn  time.Duration
	closing  atomic.Bool // set by Close: errors of closing listeners are expected

	closeOnce sync.Once
	closeErr  error
}

// Start starts the store in opts.Dir and returns once it serves, or
// ctx's deadline (DefaultStartTimeout if none) passes. A Dir another
// process's store is using is an error saying so.
func Start(ctx context.Context, opts Options) (_ *Server, err error) {
	begin := time.Now()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultStartTimeout)
		defer cancel()
	}
	if opts.Dir == "" {
		return nil, errors.New("coordination store: no directory")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("coordination store: %w", err)
	}
	if err := prepareDir(dir); err != nil {
		return nil, err
	}
	s := &Server{}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.lock, err = lockDir(dir); err != nil {
		return nil, err
	}
	sock, err := s.socketPath(dir)
	if err != nil {
		return nil, err
	}
	client := url.URL{Scheme: "unix", Path: sock}
	s.endpoint = client.String()
	peer, err := peerTLS(dir)
	if err != nil {
		return nil, err
	}
	cfg := config(dir, client, peer, newLogger(opts.Log, &s.closing))
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("coordination store in %s: %w", dir, err)
	}
	s.etcd = e
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		return nil, fmt.Errorf("coordination store in %s: %w", dir, err)
	case <-e.Server.StopNotify():
		return nil, fmt.Errorf("coordination store in %s: stopped while starting", dir)
	case <-ctx.Done():
		return nil, fmt.Errorf("coordination store in %s: not ready: %w", dir, context.Cause(ctx))
	}
	s.readyIn = time.Since(begin)
	return s, nil
}

// config returns the etcd configuration of a store in dir serving client.
func config(dir string, client url.URL, peerCerts transport.TLSInfo, log *zap.Logger) *embed.Config {
	cfg := baseConfig(dir, log)
	cfg.ListenClientUrls = []url.URL{client}
	cfg.AdvertiseClientUrls = []url.URL{client}
	// etcd's peer listener takes only a host, not a socket path: a
	// loopback port, which nothing dials (there is one member), closed to
	// whoever lacks the store's own certificate (see peerTLS).
	peer := url.URL{Scheme: "https", Host: "127.0.0.1:0"}
	cfg.ListenPeerUrls = []url.URL{peer}
	cfg.AdvertisePeerUrls = []url.URL{peer}
	cfg.PeerTLSInfo = peerCerts
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	// One member elects itself after a randomized election timeout, which
	// is most of its start (20–130 ms with 100 ms, 16–50 ms with 25 ms):
	// keep it short. With no peer, a short one risks nothing.
	cfg.TickMs = 5
	cfg.ElectionMs = 25
	return cfg
}

// baseConfig returns the settings every store of pilotage shares, the
// embedded one and the members "pilotage deploy" runs: its data in dir,
// its errors to log.
func baseConfig(dir string, log *zap.Logger) *embed.Config {
	cfg := embed.NewConfig()
	cfg.Dir = dir
	cfg.EnableGRPCGateway = false
	// UnsafeNoFsync stays false: a fencing token handed out must survive
	// a crash of the machine.
	// Keep an hour of history for watches that resume; revisions, and so
	// fencing tokens, keep growing across compactions.
	cfg.AutoCompactionMode = embed.CompactorModePeriodic
	cfg.AutoCompactionRetention = "1h"
	cfg.LogLevel = "error"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(log)
	return cfg
}

// Endpoint returns the URL clients connect to: "unix:///…/etcd.sock".
func (s *Server) Endpoint() string { return s.endpoint }

// ReadyIn returns how long Start took to have the store serving.
func (s *Server) ReadyIn() time.Duration { return s.readyIn }

// Close stops the store, and waits until its goroutines and listeners
// are gone. Clients should be closed first: a client's open stream holds
// Close up to etcd's request timeout (5s).
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.closing.Store(true)
		if s.etcd != nil {
			s.etcd.Close()
		}
		s.closeErr = s.release()
	})
	return s.closeErr
}

// release removes what Start made besides the server: the socket
// directory it made, and the lock.
func (s *Server) release() error {
	var errs []error
	if s.sockDir != "" {
		errs = append(errs, os.RemoveAll(s.sockDir))
	}
	if s.lock != nil {
		errs = append(errs, s.lock.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("coordination store: %w", err)
	}
	return nil
}

// maxSocketPath is the longest path a Unix socket address holds (108
// bytes with the terminating NUL on Linux).
const maxSocketPath = 107

// socketPath returns where the client socket goes: dir/etcd.sock, or, if
// that path is too long for a socket address, a fresh private directory
// of the temporary directory, named after dir.
func (s *Server) socketPath(dir string) (string, error) {
	if p := filepath.Join(dir, "etcd.sock"); len(p) <= maxSocketPath {
		return p, nil
	}
	sum := sha256.Sum256([]byte(dir))
	d, err := os.MkdirTemp("", "pilotage-etcd-"+hex.EncodeToString(sum[:4])+"-") // mode 0700
	if err != nil {
		return "", fmt.Errorf("coordination store: a directory for its socket: %w", err)
	}
	s.sockDir = d
	p := filepath.Join(d, "etcd.sock")
	if len(p) > maxSocketPath {
		return "", fmt.Errorf("coordination store: socket path %s is too long; set $TMPDIR to a shorter directory", p)
	}
	return p, nil
}

// prepareDir creates dir with mode 0700, or checks that an existing one is
// the user's and closed to others: its socket is the only gate to the
// store.
func prepareDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("coordination store: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("coordination store: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("coordination store: %s is not a directory", dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("coordination store: %s belongs to uid %d, not to you (uid %d)", dir, st.Uid, os.Getuid())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("coordination store: %s is open to others (mode %v): it must be 0700, since its socket lets anyone who reaches it change the app's locks and config", dir, perm)
	}
	return nil
}

// lockDir takes an exclusive flock on dir, or fails at once if another
// process holds it: two etcd servers on one data directory would corrupt
// it (etcd itself would wait for its database's lock forever).
func lockDir(dir string) (*os.File, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("coordination store: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("coordination store: %s is in use by another process (another run of this app?)", dir)
		}
		return nil, fmt.Errorf("coordination store: lock %s: %w", dir, err)
	}
	return f, nil
}
