package supervisor

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pilotage/pilotage/coord"
	"github.com/pilotage/pilotage/internal/envelope"
)

// The test binary doubles as the processes a supervisor starts, selected by
// the environment:
//
//	__pilotage-unit-shim  the shim of a unit (RunShim)
//	PILOTAGE_ENVELOPE  a fake proclet speaking the envelope protocol (fakeProclet)
//	FAKE_ROLE=sleep    a unit's program that sleeps until killed
//	FAKE_ROLE=supervisor  a supervisor (runHelperSupervisor), under a limit of
//	                      $FAKE_NOFILE file descriptors if set
//
// The fake proclet's behaviour, per group name (a comma-separated list):
//
//	FAKE_SLOW=group=dur    wait dur before each component is ready
//	FAKE_CRASH=group       exit with status 3 once started; "group=path": only
//	                       while the file path exists
//
// Where a group is named, one replica may be named instead ("b.B/1").
//
//	FAKE_STUBBORN=group  ignore Stop, SIGTERM and EOF of the control socket
//	FAKE_RETURN=group=dur  once ready, wait dur, send AppDone and exit 0 (the
//	                       app function returned)
//	FAKE_DEAF=group        never answer pings
//	FAKE_PROTOCOL=group=n  say hello with envelope protocol version n
//	FAKE_LOG_PINGS=1       print "pong sent" for each ping answered
//	FAKE_BOGUS=group=what  after hello, break the protocol: "hello" (a
//	                       second one), "listening" or "component" (on
//	                       a listener or component it was not given)
//
// //	FAKE_LOCK=group=name   once ready, connect to the coordination store
//
//	init names (as its replica, with its pid), take
//	lock name and print "locked <token> pid <pid>"
//
// Like a real proclet, the fake one exits 0 on SIGTERM. It prints every
// routes message: "routes a.A=2 b.B=0; b.B waits: restarting" (the number
// of addresses per component, then for each without one whether its
// callers wait or fail fast, and why).
func TestMain(m *testing.M) {
	RunShim(os.Args[1:])
	// The processes started from this binary exit at once, not after the
	// race detector's default second.
	if g := os.Getenv("GORACE"); !strings.Contains(g, "atexit_sleep_ms") {
		os.Setenv("GORACE", strings.TrimSpace(g+" atexit_sleep_ms=0"))
	}
	switch {
	case os.Getenv(envelope.EnvVar) != "":
		os.Exit(fakeProclet())
	case os.Getenv("FAKE_ROLE") == "sleep":
		fmt.Println("unit sleeping")
		signal.Ignore(syscall.SIGINT)
		time.Sleep(time.Hour)
		os.Exit(0)
	case os.Getenv("FAKE_ROLE") == "supervisor":
		os.Exit(runHelperSupervisor())
	}
	os.Exit(m.Run())
}

// fakeFor returns the value of the first item of a "a=1,b=2" or "a,b" list
// that names the group of init or its replica ("b.B" or "b.B/1").
func fakeFor(list string, init envelope.Init) (string, bool) {
	if v, ok := fakeSetting(list, init.Replica); ok {
		return v, true
	}
	return fakeSetting(list, init.Group)
}

// fakeSetting returns the value of key in a "a=1,b=2" or "a,b" list.
func fakeSetting(list, key string) (string, bool) {
	for item := range strings.SplitSeq(list, ",") {
		k, v, _ := strings.Cut(item, "=")
		if k == key {
			return v, true
		}
	}
	return "", false
}

func fakeProclet() int {
	fd, _ := strconv.Atoi(os.Getenv(envelope.EnvVar))
	f := os.NewFile(uintptr(fd), "envelope")
	raw, err := net.FileConn(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake proclet: envelope socket:", err)
		return 2
	}
	f.Close()
	conn := envelope.NewConn(raw, envelope.Runtime)
	first, err := conn.Receive()
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake proclet: init:", err)
		return 2
	}
	env := first.(envelope.Init)
	send := func(m envelope.Message) { _ = conn.Send(m) }
	_, ignoreStop := fakeSetting(os.Getenv("FAKE_STUBBORN"), env.Group)
	if ignoreStop {
		signal.Ignore(syscall.SIGTERM)
	} else {
		term := make(chan os.Signal, 1)
		signal.Notify(term, syscall.SIGTERM)
		go func() {
			<-term
			fmt.Println("SIGTERM received")
			os.Exit(0)
		}()
	}
	sockPath := strings.TrimPrefix(env.RPCListen, "unix:")
	rpc, err := net.Listen("unix", sockPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake proclet: rpc:", err)
		return 2
	}
	defer rpc.Close()
	if v, ok := fakeFor(os.Getenv("FAKE_PROTOCOL"), env); ok {
		fmt.Fprintf(raw, `{"type":"hello","protocol":%s,"pid":%d,"rpc_address":"%s"}`+"\n", v, os.Getpid(), env.RPCListen)
	} else {
		send(envelope.Hello{PID: os.Getpid(), RPCAddress: env.RPCListen})
	}
	if v, ok := fakeFor(os.Getenv("FAKE_BOGUS"), env); ok {
		switch v {
		case "hello":
			send(envelope.Hello{PID: os.Getpid(), RPCAddress: env.RPCListen})
		case "listening":
			send(envelope.Listening{Listener: "bogus", Address: "127.0.0.1:1"})
		case "component":
			send(envelope.ComponentStarting{Component: "example.com/bogus.Bogus"})
		}
	}

	firstRoutes := make(chan struct{})
	go func() {
		first := true
		for {
			m, err := conn.Receive()
			if err != nil {
				break
			}
			switch m := m.(type) {
			case envelope.Routes:
				var parts []string
				for c, addrs := range m.Routes {
					parts = append(parts, fmt.Sprintf("%s=%d", shortName(c), len(addrs)))
				}
				var outages []string
				for c, o := range m.Outages {
					verb := "fails fast"
					if o.Transient {
						verb = "waits"
					}
					outages = append(outages, fmt.Sprintf("; %s %s: %s", shortName(c), verb, o.Reason))
				}
				fmt.Println("routes", strings.Join(sortedStrings(parts), " ")+strings.Join(sortedStrings(outages), ""))
				if first {
					first = false
					close(firstRoutes)
				}
			case envelope.Ping:
				if _, deaf := fakeFor(os.Getenv("FAKE_DEAF"), env); !deaf {
					send(envelope.Pong{Seq: m.Seq})
					if os.Getenv("FAKE_LOG_PINGS") != "" {
						fmt.Println("pong sent")
					}
				}
			case envelope.Stop:
				fmt.Println("stop received")
				if !ignoreStop {
					rpc.Close()
					os.Exit(0)
				}
			}
		}
		if ignoreStop {
			fmt.Println("control socket closed; staying")
			return
		}
		fmt.Println("control socket closed; exiting")
		rpc.Close()
		os.Exit(1)
	}()
	<-firstRoutes // the contract: routes arrive before any component starts
	// The supervisor's replica ids are "<group>/<index>".
	_, index, _ := strings.Cut(env.Replica, "/")
	fmt.Printf("starting %s replica %s\n", env.Group, index)
	if path, crash := fakeFor(os.Getenv("FAKE_CRASH"), env); crash && (path == "" || fileExists(path)) {
		send(envelope.Failed{Error: "boom"})
		return 3
	}
	var slow time.Duration
	if v, ok := fakeSetting(os.Getenv("FAKE_SLOW"), env.Group); ok {
		slow, _ = time.ParseDuration(v)
	}
	for _, c := range env.Components {
		send(envelope.ComponentStarting{Component: c, Time: time.Now()})
		time.Sleep(slow)
		send(envelope.ComponentReady{Component: c, Time: time.Now()})
	}
	for name, addr := range env.Listeners {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "fake proclet: listener:", err)
			return 2
		}
		body := fmt.Sprintf("%s pid %d", env.Replica, os.Getpid())
		go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, body) }))
		send(envelope.Listening{Listener: name, Address: ln.Addr().String()})
	}
	send(envelope.Ready{})
	fmt.Printf("ready %s replica %s\n", env.Group, index)
	if name, ok := fakeFor(os.Getenv("FAKE_LOCK"), env); ok {
		go holdLock(env, name)
	}
	if v, ok := fakeSetting(os.Getenv("FAKE_RETURN"), env.Group); ok {
		d, _ := time.ParseDuration(v)
		time.Sleep(d)
		send(envelope.AppDone{})
		return 0
	}
	select {}
}

// holdLock takes lock name in the coordination store init names, as the
// replica init names, and holds it until the process ends.
func holdLock(init envelope.Init, name string) {
	c := init.Coordination
	if c == nil {
		fmt.Println("lock: init names no coordination store")
		return
	}
	ctx := context.Background()
	store, err := coord.Connect(ctx, coord.Options{Endpoints: c.Endpoints, Prefix: c.Prefix, Replica: init.Replica, PID: os.Getpid(), TTL: time.Duration(c.TTL)})
	if err != nil {
		fmt.Println("lock:", err)
		return
	}
	l, err := store.Lock(ctx, name)
	if err != nil {
		fmt.Println("lock:", err)
		return
	}
	fmt.Printf("locked %d pid %d\n", l.Token(), os.Getpid())
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func sortedStrings(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// runHelperSupervisor runs a supervisor of a fake app in $PILOTAGE_STATE_DIR
// until SIGTERM; the test of orphans kills it with SIGKILL.
func runHelperSupervisor() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if v := os.Getenv("FAKE_NOFILE"); v != "" { // run under a low file descriptor limit
		n, _ := strconv.ParseUint(v, 10, 64)
		lim := syscall.Rlimit{Cur: n, Max: n}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			fmt.Fprintln(os.Stderr, "setrlimit:", err)
			return 1
		}
	}
	cfg := mustConfig(os.Getenv("FAKE_CONFIG"))
	self, _ := os.Executable()
	s, err := New(ctx, Options{
		App:         "orphans",
		Binary:      self,
		Config:      cfg,
		StateDir:    os.Getenv("PILOTAGE_STATE_DIR"),
		Description: mustDesc(os.Getenv("FAKE_DESC")),
		Stdout:      os.Stdout,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := s.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
