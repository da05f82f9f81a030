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

// Server serves the control API on <statedir>/control.sock.
type Server struct {
	ln   net.Listener
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
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	s := &Server{ln: ln, srv: &http.Server{Handler: Handler(b), ReadHeaderTimeout: 10 * time.Second}, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln) // returns http.ErrServerClosed on Close
	}()
	return s, nil
}

// Close stops serving and removes the socket.
func (s *Server) Close() error {
	err := s.srv.Close()
	<-s.done
	_ = os.Remove(s.ln.Addr().String())
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
