package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Backend is what the server exposes: the supervisor.
type Backend interface {
	Status() *Status
	// Act performs op (stop, start or restart) on the component or unit
	// name and returns once it settled or ctx is done (then with
	// Settled false).
	Act(ctx context.Context, op, name string) (*ActionResult, error)
	Analyze() []AnalyzeUnit
}

// ErrNotFound is wrapped by Backend.Act for an unknown component or unit;
// the server answers 404.
var ErrNotFound = errors.New("no such component or unit")

// ErrAmbiguous is wrapped by Backend.Act for a short name several
// components share; the server answers 400.
var ErrAmbiguous = errors.New("ambiguous name")

// How long POST /v1/units/{name}/{op} waits for the action to settle: the
// query parameter wait (a duration, at most MaxActionWait), else
// DefaultActionWait. A client should wait a little longer than that, to
// get the answer saying the action has not settled.
const (
	DefaultActionWait = 30 * time.Second
	MaxActionWait     = 10 * time.Minute
)

// Bounds of the control API's connections: a client cannot make the
// supervisor hold many idle connections, nor memory for them.
var (
	idleTimeout = 30 * time.Second // a keep-alive connection idle for this long is closed
	maxConns    = 128              // more connections at once are closed on accept
)

// Server serves the control API on <statedir>/control.sock.
type Server struct {
	ln   *net.UnixListener
	path string
	sock os.FileInfo // the socket file, removed on Close only if still there
	srv  *http.Server
	done chan struct{}
}

// Listen creates the control socket in dir (mode 0600, replacing a stale
// one: the caller holds the lock) and serves b on it.
func Listen(dir string, b Backend) (*Server, error) {
	path := filepath.Join(dir, SocketName)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	// Close removes the socket itself, and only if it is still this one:
	// after the state directory was removed, the path may be another
	// supervisor's socket.
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		os.Remove(path)
		return nil, fmt.Errorf("control socket: %w", err)
	}
	sock, err := os.Lstat(path)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	s := &Server{ln: ln, path: path, sock: sock, done: make(chan struct{}),
		srv: &http.Server{Handler: Handler(b), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: idleTimeout, MaxHeaderBytes: 64 << 10}}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(&limitListener{Listener: ln, sem: make(chan struct{}, maxConns)}) // returns http.ErrServerClosed on Close
	}()
	return s, nil
}

// limitListener closes, as soon as they are accepted, the connections past
// cap(sem) open at once.
type limitListener struct {
	net.Listener
	sem chan struct{}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.sem <- struct{}{}:
			return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
		default:
			c.Close()
		}
	}
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// Close stops serving and removes the socket, unless another file has
// taken its place.
func (s *Server) Close() error {
	err := s.srv.Close()
	<-s.done
	if fi, lerr := os.Lstat(s.path); lerr == nil && os.SameFile(fi, s.sock) {
		_ = os.Remove(s.path) // a failure means it is gone already
	}
	return err
}

// Handler returns the HTTP handler of the control API.
func Handler(b Backend) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, b.Status())
	})
	mux.HandleFunc("GET /v1/analyze", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, b.Analyze())
	})
	mux.HandleFunc("POST /v1/units/{name}/{op}", func(w http.ResponseWriter, r *http.Request) {
		op := r.PathValue("op")
		switch op {
		case "stop", "start", "restart":
		default:
			writeJSON(w, http.StatusBadRequest, errorBody{Error: fmt.Sprintf("unknown operation %q (want stop, start or restart)", op)})
			return
		}
		wait := DefaultActionWait
		if v := r.URL.Query().Get("wait"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				writeJSON(w, http.StatusBadRequest, errorBody{Error: fmt.Sprintf("wait=%q: want a positive duration", v)})
				return
			}
			wait = min(d, MaxActionWait)
		}
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		defer cancel()
		res, err := b.Act(ctx, op, r.PathValue("name"))
		if err != nil {
			code := http.StatusInternalServerError
			switch {
			case errors.Is(err, ErrNotFound):
				code = http.StatusNotFound
			case errors.Is(err, ErrAmbiguous):
				code = http.StatusBadRequest
			}
			writeJSON(w, code, errorBody{Error: err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away; nothing to do
}
