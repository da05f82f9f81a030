package supervisor

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pilotage/pilotage/internal/proclet"
)

// The test binary doubles as the processes a supervisor starts, selected by
// the environment:
//
//	__pilotage-unit-shim  the shim of a unit (RunShim)
//	PILOTAGE_PROCLET   a fake proclet speaking the protocol (fakeProclet)
//	PILOTAGE_DESCRIBE  prints $FAKE_DESC
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
//
// Like a real proclet, the fake one exits 0 on SIGTERM.
func TestMain(m *testing.M) {
	RunShim(os.Args[1:])
	// The processes started from this binary exit at once, not after the
	// race detector's default second.
	if g := os.Getenv("GORACE"); !strings.Contains(g, "atexit_sleep_ms") {
		os.Setenv("GORACE", strings.TrimSpace(g+" atexit_sleep_ms=0"))
	}
	switch {
	case os.Getenv(proclet.EnvVar) != "":
		os.Exit(fakeProclet())
	case os.Getenv(proclet.DescribeEnvVar) != "":
		fmt.Println(os.Getenv("FAKE_DESC"))
		os.Exit(0)
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
// that names the group of env or its replica ("b.B" or "b.B/1").
func fakeFor(list string, env proclet.Env) (string, bool) {
	if v, ok := fakeSetting(list, fmt.Sprintf("%s/%d", env.Group, env.Replica)); ok {
		return v, true
	}
	return fakeSetting(list, env.Group)
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
	var env proclet.Env
	if err := json.Unmarshal([]byte(os.Getenv(proclet.EnvVar)), &env); err != nil {
		fmt.Fprintln(os.Stderr, "fake proclet: bad env:", err)
		return 2
	}
	f := os.NewFile(proclet.ControlFD, "control")
	conn, err := net.FileConn(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake proclet: control socket:", err)
		return 2
	}
	f.Close()
	var mu sync.Mutex
	enc := json.NewEncoder(conn)
	send := func(m proclet.Message) {
		m.Time = time.Now()
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(m)
	}
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
	sockPath := strings.TrimPrefix(env.RPCAddress, "unix:")
	rpc, err := net.Listen("unix", sockPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake proclet: rpc:", err)
		return 2
	}
	defer rpc.Close()
	send(proclet.Message{Type: proclet.Hello, PID: os.Getpid(), Address: env.RPCAddress})

	firstRoutes := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(conn)
		sc.Buffer(nil, 16<<20)
		first := true
		for sc.Scan() {
			var m proclet.Message
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				continue
			}
			switch m.Type {
			case proclet.Routes:
				var parts []string
				for c, addrs := range m.Routes {
					parts = append(parts, fmt.Sprintf("%s=%d", shortName(c), len(addrs)))
				}
				fmt.Println("routes", strings.Join(sortedStrings(parts), " "))
				if first {
					first = false
					close(firstRoutes)
				}
			case proclet.Ping:
				if _, deaf := fakeFor(os.Getenv("FAKE_DEAF"), env); !deaf {
					send(proclet.Message{Type: proclet.Pong, Seq: m.Seq})
				}
			case proclet.Stop:
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
	fmt.Printf("starting %s replica %d\n", env.Group, env.Replica)
	if path, crash := fakeFor(os.Getenv("FAKE_CRASH"), env); crash && (path == "" || fileExists(path)) {
		send(proclet.Message{Type: proclet.Failed, Error: "boom"})
		return 3
	}
	var slow time.Duration
	if v, ok := fakeSetting(os.Getenv("FAKE_SLOW"), env.Group); ok {
		slow, _ = time.ParseDuration(v)
	}
	for _, c := range env.Components {
		send(proclet.Message{Type: proclet.ComponentStarting, Component: c})
		time.Sleep(slow)
		send(proclet.Message{Type: proclet.ComponentReady, Component: c})
	}
	for name, addr := range env.Listeners {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "fake proclet: listener:", err)
			return 2
		}
		body := fmt.Sprintf("%s/%d pid %d", env.Group, env.Replica, os.Getpid())
		go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, body) }))
		send(proclet.Message{Type: proclet.Listening, Listener: name, Address: ln.Addr().String()})
	}
	send(proclet.Message{Type: proclet.Ready})
	fmt.Printf("ready %s replica %d\n", env.Group, env.Replica)
	if v, ok := fakeSetting(os.Getenv("FAKE_RETURN"), env.Group); ok {
		d, _ := time.ParseDuration(v)
		time.Sleep(d)
		send(proclet.Message{Type: proclet.AppDone})
		return 0
	}
	select {}
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
