package appfs

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/state"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/logstore"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/supervisor"
	"github.com/pilotage/pilotage/internal/config"
	"github.com/pilotage/pilotage/internal/envelope"
	"github.com/pilotage/pilotage/internal/graph"
)

// The test binary doubles as the processes of the apps the tests run,
// selected by the environment:
//
//	APPFS_ROLE=supervisor  a supervisor, as "pilotage run" runs it
//	                       (runSupervisor), until SIGTERM
//	PILOTAGE_ENVELOPE      a proclet of it (fakeProclet)
//	APPFS_ROLE=sleep       a unit's program that sleeps until killed
//	__pilotage-unit-shim   the shim of a unit
func TestMain(m *testing.M) {
	supervisor.RunShim(os.Args[1:])
	// The processes started from this binary exit at once, not after the
	// race detector's default second.
	if g := os.Getenv("GORACE"); !strings.Contains(g, "atexit_sleep_ms") {
		os.Setenv("GORACE", strings.TrimSpace(g+" atexit_sleep_ms=0"))
	}
	switch {
	case os.Getenv(envelope.EnvVar) != "":
		os.Exit(fakeProclet())
	case os.Getenv("APPFS_ROLE") == "supervisor":
		os.Exit(runSupervisor())
	case os.Getenv("APPFS_ROLE") == "sleep":
		fmt.Println("unit sleeping")
		time.Sleep(time.Hour)
		os.Exit(0)
	}
	code := m.Run()
	stopShared()
	os.Exit(code)
}

// runSupervisor runs the app $APPFS_APP of description $APPFS_DESC (this
// binary as its processes; without one, the binary $APPFS_BINARY, as it
// describes itself) and configuration file $APPFS_CONFIG in state
// directory $APPFS_STATE_DIR,
// its processes in $APPFS_WORKDIR with the variables of $APPFS_ENV (one
// per line) added, as "pilotage run" does: its lock, app.json and log
// store.
func runSupervisor() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "supervisor:", err)
		return 1
	}
	dir, app, cfgPath := os.Getenv("APPFS_STATE_DIR"), os.Getenv("APPFS_APP"), os.Getenv("APPFS_CONFIG")
	self, err := os.Executable()
	if err != nil {
		return fail(err)
	}
	lock, err := state.Lock(dir, app)
	if err != nil {
		return fail(err)
	}
	defer lock.Close()
	if err := state.WriteAppInfo(dir, state.AppInfo{Name: app, Binary: self, Config: cfgPath}); err != nil {
		return fail(err)
	}
	cfg, err := config.Read(cfgPath)
	if err != nil {
		return fail(err)
	}
	bin := self
	var desc *graph.Graph // nil: the binary's own
	if d := os.Getenv("APPFS_DESC"); d != "" {
		desc = &graph.Graph{}
		if err := json.Unmarshal([]byte(d), desc); err != nil {
			return fail(err)
		}
	} else {
		bin = os.Getenv("APPFS_BINARY")
	}
	logs, err := logstore.Open(filepath.Join(dir, "logs"), logstore.Options{})
	if err != nil {
		return fail(err)
	}
	defer logs.Close()
	var env []string
	if e := os.Getenv("APPFS_ENV"); e != "" {
		env = strings.Split(e, "\n")
	}
	s, err := supervisor.New(ctx, supervisor.Options{
		App: app, Binary: bin, Dir: os.Getenv("APPFS_WORKDIR"), Config: cfg, ConfigPath: cfgPath,
		StateDir: dir, Lock: lock, Description: desc, Stdout: os.Stdout, Logs: logs, Env: env,
		StopTimeout: 2 * time.Second, KillTimeout: time.Second, MaxProcesses: -1,
	})
	if err != nil {
		return fail(err)
	}
	if err := s.Run(ctx); err != nil {
		return fail(err)
	}
	return 0
}

// fakeProclet speaks the envelope protocol as a replica: it says hello,
// waits for its first routes, prints "hello from <replica>", starts its
// components and listeners at once, and serves until told to stop (or
// its supervisor goes away).
func fakeProclet() int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "fake proclet:", err)
		return 2
	}
	var fd int
	fmt.Sscan(os.Getenv(envelope.EnvVar), &fd)
	f := os.NewFile(uintptr(fd), "envelope")
	raw, err := net.FileConn(f)
	if err != nil {
		return fail(err)
	}
	f.Close()
	conn := envelope.NewConn(raw, envelope.Runtime)
	first, err := conn.Receive()
	if err != nil {
		return fail(err)
	}
	init, ok := first.(envelope.Init)
	if !ok {
		return fail(fmt.Errorf("first message %T, not an init", first))
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	go func() {
		<-term
		os.Exit(0)
	}()
	rpc, err := net.Listen("unix", strings.TrimPrefix(init.RPCListen, "unix:"))
	if err != nil {
		return fail(err)
	}
	defer rpc.Close()
	send := func(m envelope.Message) { _ = conn.Send(m) }
	send(envelope.Hello{PID: os.Getpid(), RPCAddress: init.RPCListen})
	routed := make(chan struct{})
	go func() {
		first := true
		for {
			m, err := conn.Receive()
			if err != nil {
				os.Exit(1) // the supervisor went away
			}
			switch m := m.(type) {
			case envelope.Routes:
				if first {
					first = false
					close(routed)
				}
			case envelope.Ping:
				send(envelope.Pong{Seq: m.Seq})
			case envelope.Stop:
				os.Exit(0)
			}
		}
	}()
	<-routed
	fmt.Printf("hello from %s\n", init.Replica)
	for _, c := range init.Components {
		send(envelope.ComponentStarting{Component: c, Time: time.Now()})
		send(envelope.ComponentReady{Component: c, Time: time.Now()})
	}
	for name, addr := range init.Listeners {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fail(err)
		}
		go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, init.Replica) }))
		send(envelope.Listening{Listener: name, Address: ln.Addr().String()})
	}
	send(envelope.Ready{})
	select {}
}
