// Command loadapp is the application the runtime's end-to-end tests run
// under "pilotage run": an HTTP front (listener "http") over testapp's
// components.
//
//	GET /half?n=42   Front.HalfViaCalc -> Calc.Half (idempotent)
//	GET /sleep?ms=N  Calc.Sleep (not idempotent), returns the serving PID
//	GET /pid         Calc.PID
//	GET /sicken      Calc.Sicken: that replica's health check fails from now on
//	GET /fault?mode=slow  Calc.Fault: that replica's PID calls hang from now
//	                 on ("" heals it); returns its PID
//	GET /hosts       the host names of this process, of the Front and of the
//	                 Calc replica the call went through, space-separated
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pilotage/pilotage"
	"github.com/pilotage/pilotage/internal/testapp"
)

type server struct {
	pilotage.Implements[pilotage.Main]
	http  pilotage.Listener
	front pilotage.Ref[testapp.Front]
	calc  pilotage.Ref[testapp.Calc]
}

func main() {
	if err := pilotage.Run(context.Background(), serve); err != nil {
		fmt.Fprintln(os.Stderr, "loadapp:", err)
		os.Exit(1)
	}
}

func serve(ctx context.Context, s *server) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /half", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.FormValue("n"))
		v, err := s.front.Get().HalfViaCalc(r.Context(), n)
		reply(w, v, err)
	})
	mux.HandleFunc("GET /sleep", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.FormValue("ms"))
		v, err := s.calc.Get().Sleep(r.Context(), time.Duration(ms)*time.Millisecond)
		reply(w, v, err)
	})
	mux.HandleFunc("GET /pid", func(w http.ResponseWriter, r *http.Request) {
		v, err := s.calc.Get().PID(r.Context())
		reply(w, v, err)
	})
	mux.HandleFunc("GET /sicken", func(w http.ResponseWriter, r *http.Request) {
		v, err := s.calc.Get().Sicken(r.Context())
		reply(w, v, err)
	})
	mux.HandleFunc("GET /fault", func(w http.ResponseWriter, r *http.Request) {
		v, err := s.calc.Get().Fault(r.Context(), r.FormValue("mode"))
		reply(w, v, err)
	})
	mux.HandleFunc("GET /hosts", func(w http.ResponseWriter, r *http.Request) {
		self, err := os.Hostname()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		hosts, err := s.front.Get().HostsViaCalc(r.Context())
		if err != nil {
			reply(w, 0, err)
			return
		}
		fmt.Fprintln(w, self, strings.Join(hosts, " "))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(s.http) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done(): // let requests in flight finish
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(shutdownCtx)
	}
}

// reply writes v, or the error with a status naming its kind, so tests can
// tell an interrupted call from an unavailable component.
func reply(w http.ResponseWriter, v int, err error) {
	switch {
	case err == nil:
		fmt.Fprint(w, v)
	case errors.Is(err, pilotage.ErrInterrupted):
		http.Error(w, "interrupted: "+err.Error(), http.StatusBadGateway)
	case errors.Is(err, pilotage.ErrUnavailable):
		http.Error(w, "unavailable: "+err.Error(), http.StatusServiceUnavailable)
	default:
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}
