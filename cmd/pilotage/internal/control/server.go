package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
)

// SocketName is the control socket's file in a state directory.
const SocketName = "control.sock"

// Bounds of the control API's connections: a client cannot make the
// supervisor hold many idle connections, nor memory for them.
var (
	idleTimeout = 30 * time.Second // a keep-alive connection idle for this long is closed
	maxConns    = 128              // more connections at once are closed on accept
)

// bookmarkInterval is how long a watch stays quiet before it sends a
// BOOKMARK of the current version.
var bookmarkInterval = 5 * time.Second

// streamWriteTimeout bounds each write of a watch or log stream: a client
// that stops reading loses its stream, and frees its connection.
const streamWriteTimeout = 30 * time.Second

// Options configure a Server.
type Options struct {
	// Logf reports the server's failures: serving stopped for another
	// reason than Close, a connection failed. Nil discards them.
	Logf func(format string, args ...any)
}

// Server serves the control API on <statedir>/control.sock.
type Server struct {
	ln   *net.UnixListener
	path string
	sock os.FileInfo // the socket file, removed on Close only if still there
	srv  *http.Server
	feed *feed
	// bookmark is bookmarkInterval when the server was made.
	bookmark time.Duration
	stop     chan struct{} // closed by Close: ends the feed and the watches
	done     chan struct{} // closed when Serve and the feed returned
}

// Listen creates the control socket in dir (mode 0600, replacing a stale
// one: the caller holds the lock) and serves b on it.
func Listen(dir string, b Backend, opts Options) (*Server, error) {
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
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	// Versions begin now, above those of any earlier run's server.
	s := &Server{ln: ln, path: path, sock: sock, feed: newFeed(b, time.Now()), bookmark: bookmarkInterval,
		stop: make(chan struct{}), done: make(chan struct{})}
	s.srv = &http.Server{
		Handler:           s.handler(b),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(logWriter(logf), "", 0),
		BaseContext:       func(net.Listener) context.Context { return stopContext(s.stop) },
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		s.feed.run(s.stop)
	}()
	go func() {
		defer wg.Done()
		err := s.srv.Serve(&limitListener{Listener: ln, sem: make(chan struct{}, maxConns)})
		if !errors.Is(err, http.ErrServerClosed) {
			logf("control API at %s stopped serving: %v", path, err)
		}
	}()
	go func() { wg.Wait(); close(s.done) }()
	return s, nil
}

// logWriter turns the lines of a log.Logger into calls of logf.
type logWriter func(format string, args ...any)

func (w logWriter) Write(p []byte) (int, error) {
	w("control API: %s", strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// stopContext returns a context canceled when stop is closed.
func stopContext(stop <-chan struct{}) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-stop; cancel() }()
	return ctx
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

// Close stops serving (ending watches and log streams) and removes the
// socket, unless another file has taken its place.
func (s *Server) Close() error {
	close(s.stop)
	err := s.srv.Close()
	<-s.done
	if fi, lerr := os.Lstat(s.path); lerr == nil && os.SameFile(fi, s.sock) {
		if rerr := os.Remove(s.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
			err = fmt.Errorf("control socket: %w", rerr)
		}
	}
	return err
}

// handler returns the HTTP handler of the API (see package api).
func (s *Server) handler(b Backend) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/get/{path...}", s.get)
	mux.HandleFunc("GET /v2/list/{path...}", s.list)
	mux.HandleFunc("GET /v2/watch/{path...}", s.watch)
	mux.HandleFunc("POST /v2/act/{path...}", func(w http.ResponseWriter, r *http.Request) { s.act(w, r, b) })
	mux.HandleFunc("GET /v2/logs/{path...}", func(w http.ResponseWriter, r *http.Request) { s.logs(w, r, b) })
	mux.HandleFunc("POST /v2/call/{path...}", func(w http.ResponseWriter, r *http.Request) { s.call(w, r, b) })
	mux.HandleFunc("GET /v2/env/{path...}", func(w http.ResponseWriter, r *http.Request) { s.env(w, r, b) })
	for _, m := range []string{"GET", "PUT", "DELETE"} {
		mux.HandleFunc(m+" /v2/value/{path...}", func(w http.ResponseWriter, r *http.Request) { s.value(w, r, b) })
	}
	if tb, ok := b.(TelemetryBackend); ok {
		HandleTelemetry(mux, tb)
	} // else the catch-all route answers not found
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, api.Errorf(api.CodeNotFound, "%s %s: no such route of the control API: this supervisor speaks /v2, and the pilotage command is older or newer than it (restart the app with this pilotage command, or use the one that started it)", r.Method, r.URL.Path))
	})
	return mux
}

// resourcePath returns the clean resource path of a request to route
// (/v2/get, ...): the rest of its escaped path, so that %2F stays inside
// an element.
func resourcePath(r *http.Request, route string) (string, error) {
	p := strings.TrimPrefix(r.URL.EscapedPath(), route)
	if p == "" {
		p = "/"
	}
	return api.Clean(p)
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	path, err := resourcePath(r, "/v2/get")
	if err != nil {
		writeError(w, err)
		return
	}
	res, ok := s.feed.get(path)
	if !ok {
		writeError(w, api.Errorf(api.CodeNotFound, "no resource at %s", path))
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	path, err := resourcePath(r, "/v2/list")
	if err != nil {
		writeError(w, err)
		return
	}
	recursive, err := boolParam(r, "recursive")
	if err != nil {
		writeError(w, err)
		return
	}
	items, version, ok := s.feed.list(path, recursive)
	if !ok {
		writeError(w, api.Errorf(api.CodeNotFound, "no resource at %s", path))
		return
	}
	writeJSON(w, http.StatusOK, api.List{ResourceVersion: version, Now: time.Now(), Items: items})
}

func (s *Server) watch(w http.ResponseWriter, r *http.Request) {
	path, err := resourcePath(r, "/v2/watch")
	if err != nil {
		writeError(w, err)
		return
	}
	recursive, err := boolParam(r, "recursive")
	if err != nil {
		writeError(w, err)
		return
	}
	var from uint64
	if v := r.URL.Query().Get("resource_version"); v != "" {
		if from, err = strconv.ParseUint(v, 10, 64); err != nil || from == 0 {
			writeError(w, api.Errorf(api.CodeBadRequest, "resource_version=%q: want a positive integer", v))
			return
		}
	}
	backlog, wt, err := s.feed.watch(path, recursive, from)
	if err != nil {
		writeError(w, err)
		return
	}
	defer s.feed.unwatch(wt)
	st := newStream(w)
	defer st.end()
	st.begin() // the client's call returns once the watch is in place
	for _, ev := range backlog {
		if st.send(ev) != nil {
			return
		}
	}
	if st.flush() != nil {
		return
	}
	quiet := time.NewTimer(s.bookmark)
	defer quiet.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case ev, ok := <-wt.ch:
			if !ok {
				_ = st.send(api.Event{Type: api.ErrorEvent, ResourceVersion: s.feed.current(),
					Error: api.NewError(api.CodeExpired, "the watch fell behind the supervisor's changes: list again")})
				_ = st.flush()
				return
			}
			if st.send(ev) != nil {
				return
			}
			// Send what else is queued before flushing.
			for len(wt.ch) > 0 {
				if ev, ok := <-wt.ch; ok && st.send(ev) != nil {
					return
				}
			}
			if st.flush() != nil {
				return
			}
		case <-quiet.C:
			// Not past a change still queued: a client resuming from
			// the bookmark would miss it. The change is sent next.
			v, ok := s.feed.bookmark(wt)
			if ok && (st.send(api.Event{Type: api.Bookmark, ResourceVersion: v}) != nil || st.flush() != nil) {
				return
			}
		}
		quiet.Reset(s.bookmark)
	}
}

func (s *Server) act(w http.ResponseWriter, r *http.Request, b Backend) {
	path, err := resourcePath(r, "/v2/act")
	if err != nil {
		writeError(w, err)
		return
	}
	action := r.URL.Query().Get("action")
	wait := DefaultActionWait
	if v := r.URL.Query().Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			writeError(w, api.Errorf(api.CodeBadRequest, "wait=%q: want a positive duration", v))
			return
		}
		wait = min(d, MaxActionWait)
	}
	res, ok := s.feed.get(path)
	switch {
	case !ok:
		writeError(w, api.Errorf(api.CodeNotFound, "no resource at %s", path))
		return
	case !res.Accepts(action):
		what := "none"
		if len(res.Actions) > 0 {
			what = strings.Join(res.Actions, ", ")
		}
		writeError(w, api.Errorf(api.CodeBadRequest, "%s %s does not accept action %q (it accepts: %s)", res.Kind, path, action, what))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	out, err := b.Act(ctx, path, action)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) logs(w http.ResponseWriter, r *http.Request, b Backend) {
	path, err := resourcePath(r, "/v2/logs")
	if err != nil {
		writeError(w, err)
		return
	}
	q, err := logQuery(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if _, ok := s.feed.get(path); !ok {
		writeError(w, api.Errorf(api.CodeNotFound, "no resource at %s", path))
		return
	}
	// The first line decides the answer's status: a query the backend
	// refuses at once is an error answer, not a stream.
	st := newStream(w)
	defer st.end()
	started, live := false, false
	err = b.Logs(r.Context(), path, q, func(l api.LogLine) error {
		started = true
		if err := st.send(l); err != nil {
			return err
		}
		live = live || l.CaughtUp
		if live {
			return st.flush()
		}
		return nil
	})
	switch {
	case err != nil && !started:
		writeError(w, err)
	case err != nil:
		// Too late for a status: end the stream with the error.
		_ = st.send(api.LogLine{Error: errorOf(err)})
		_ = st.flush()
	default:
		st.begin()
		_ = st.flush()
	}
}

// logQuery parses the parameters of GET /v2/logs.
func logQuery(r *http.Request) (LogQuery, error) {
	var q LogQuery
	v := r.URL.Query()
	if t := v.Get("tail"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 {
			return q, api.Errorf(api.CodeBadRequest, "tail=%q: want a count of lines", t)
		}
		q.Tail = n
	}
	if t := v.Get("since"); t != "" {
		s, err := time.Parse(time.RFC3339Nano, t)
		if err != nil {
			return q, api.Errorf(api.CodeBadRequest, "since=%q: want an RFC 3339 time", t)
		}
		q.Since = s
	}
	f, err := boolParam(r, "follow")
	if err != nil {
		return q, err
	}
	q.Follow = f
	q.Sources = v["source"]
	return q, nil
}

func boolParam(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, api.Errorf(api.CodeBadRequest, "%s=%q: want true or false", name, v)
	}
	return b, nil
}

// A stream writes JSON values one per line, answering 200 before the
// first.
type stream struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	bw      *bufio.Writer
	enc     *json.Encoder
	started bool
}

func newStream(w http.ResponseWriter) *stream {
	bw := bufio.NewWriter(w)
	return &stream{w: w, rc: http.NewResponseController(w), bw: bw, enc: json.NewEncoder(bw)}
}

// deadline bounds the writes about to be made (each send may flush).
func (s *stream) deadline() {
	_ = s.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout)) // unsupported: writes stay unbounded
}

// end lifts the deadline, which would outlast the request on a kept-alive
// connection.
func (s *stream) end() { _ = s.rc.SetWriteDeadline(time.Time{}) }

// begin answers 200, once.
func (s *stream) begin() {
	if !s.started {
		s.started = true
		s.w.Header().Set("Content-Type", "application/x-ndjson")
		s.w.WriteHeader(http.StatusOK)
	}
}

func (s *stream) send(v any) error {
	s.begin()
	s.deadline()
	return s.enc.Encode(v)
}

func (s *stream) flush() error {
	if !s.started {
		return nil
	}
	s.deadline()
	if err := s.bw.Flush(); err != nil {
		return err
	}
	return s.rc.Flush()
}

// errorOf returns err as an *api.Error, with the code of its chain and
// its whole message.
func errorOf(err error) *api.Error {
	return api.NewError(api.CodeOf(err), err.Error())
}

func writeError(w http.ResponseWriter, err error) {
	e := errorOf(err)
	writeJSON(w, api.HTTPStatus(e.Code), api.ErrorBody{Error: e})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away: nothing to do
}
