package proclet_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pilotage/pilotage"
	"github.com/pilotage/pilotage/codegen"
	"github.com/pilotage/pilotage/internal/coordinfo"
	"github.com/pilotage/pilotage/internal/envelope"
	"github.com/pilotage/pilotage/internal/proclet"
	"github.com/pilotage/pilotage/internal/rpc"
	"github.com/pilotage/pilotage/internal/testapp"
)

const (
	calcName  = "github.com/pilotage/pilotage/internal/testapp.Calc"
	frontName = "github.com/pilotage/pilotage/internal/testapp.Front"
	timeout   = 10 * time.Second
	// deployment is the one every test proclet runs.
	deployment = "test-000000000000"
)

// A fakeDeployer is the deployer's end of one proclet.Run in this process,
// over a real socketpair.
type fakeDeployer struct {
	t    *testing.T
	raw  net.Conn
	conn *envelope.Conn
	msgs chan envelope.Message // everything the proclet sent, in order
	done chan error            // Run's result
	logs *logRecorder
}

// socketpair returns both ends of a Unix stream socketpair.
func socketpair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	var conns [2]net.Conn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "envelope")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	return conns[0], conns[1]
}

// launch runs proclet.Run against a fake deployer, which has sent nothing yet.
func launch(t *testing.T) *fakeDeployer {
	t.Helper()
	mine, theirs := socketpair(t)
	d := &fakeDeployer{t: t, raw: mine, conn: envelope.NewConn(mine, envelope.Deployer), msgs: make(chan envelope.Message, 100), done: make(chan error, 1), logs: &logRecorder{}}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		d.done <- proclet.Run(ctx, theirs, proclet.Options{
			Main:   reflect.TypeFor[pilotage.Main](),
			Logger: slog.New(d.logs.handler()),
		})
	}()
	go func() {
		defer close(d.msgs)
		for {
			m, err := d.conn.Receive()
			if err != nil {
				return
			}
			d.msgs <- m
		}
	}()
	t.Cleanup(func() {
		cancel()
		d.conn.Close()
		select {
		case <-d.done:
		case <-time.After(timeout):
			t.Error("proclet.Run did not return")
		}
	})
	return d
}

// start launches a proclet hosting components, sends it init (with
// health checks every 20ms) and routes, and waits until it is ready. It
// returns the deployer and the proclet's RPC address.
func start(t *testing.T, routes envelope.Routes, components ...string) (*fakeDeployer, string) {
	t.Helper()
	d := launch(t)
	init := newInit(t, components...)
	d.send(init)
	hello := expect[envelope.Hello](d)
	if hello.Protocol != envelope.ProtocolVersion || hello.PID != os.Getpid() || hello.RPCAddress != init.RPCListen {
		t.Fatalf("hello %+v: want protocol %d, pid %d, the address %s", hello, envelope.ProtocolVersion, os.Getpid(), init.RPCListen)
	}
	d.send(routes)
	expect[envelope.Ready](d)
	return d, hello.RPCAddress
}

func newInit(t *testing.T, components ...string) envelope.Init {
	dir, err := os.MkdirTemp("", "proclet") // t.TempDir's path can exceed a socket address
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return envelope.Init{
		App: "test", Deployment: deployment, Group: "g", Replica: "g/0",
		Components: components, RPCListen: "unix:" + filepath.Join(dir, "rpc.sock"),
		Health: envelope.Health{Interval: envelope.Duration(20 * time.Millisecond), Timeout: envelope.Duration(time.Second), FailureThreshold: 1},
	}
}

func (d *fakeDeployer) send(m envelope.Message) {
	d.t.Helper()
	if err := d.conn.Send(m); err != nil {
		d.t.Fatalf("send %s: %v", m.MessageType(), err)
	}
}

// expect returns the proclet's next message of type M, skipping
// component_starting, component_ready, listening and pong.
func expect[M envelope.Message](d *fakeDeployer) M {
	d.t.Helper()
	var want M
	deadline := time.After(timeout)
	for {
		select {
		case m, ok := <-d.msgs:
			if !ok {
				d.t.Fatalf("socket closed while waiting for %s (Run: %v)", want.MessageType(), d.result())
			}
			if got, ok := m.(M); ok {
				return got
			}
			switch m.(type) {
			case envelope.ComponentStarting, envelope.ComponentReady, envelope.Listening, envelope.Pong:
				continue
			}
			d.t.Fatalf("got %#v, want %s", m, want.MessageType())
		case <-deadline:
			d.t.Fatalf("no %s within %s", want.MessageType(), timeout)
		}
	}
}

// result waits for Run to return.
func (d *fakeDeployer) result() error {
	select {
	case err := <-d.done:
		d.done <- err
		return err
	case <-time.After(timeout):
		d.t.Fatal("proclet.Run did not return")
		return nil
	}
}

// client returns a client stub of component T served at addr.
func client[T any](t *testing.T, addr string) T {
	t.Helper()
	return clientOf[T](t, addr, deployment)
}

// clientOf returns a client stub of component T served at addr, for a
// caller of deployment dep.
func clientOf[T any](t *testing.T, addr, dep string) T {
	t.Helper()
	iface, ok := codegen.Find(reflect.TypeFor[T]())
	if !ok {
		t.Fatalf("%v has no generated code", reflect.TypeFor[T]())
	}
	pool := rpc.NewPool(rpc.PoolOptions{Dial: rpc.DialOptions{Deployment: dep}}, rpc.StaticResolver{Addrs: []string{addr}})
	t.Cleanup(func() { pool.Close() })
	return iface.ClientStub(caller{pool, iface.Name}).(T)
}

type caller struct {
	pool      *rpc.Pool
	component string
}

func (c caller) Call(ctx context.Context, m int, args []byte) ([]byte, error) {
	return c.pool.Call(ctx, c.component, m, args, false)
}

func routesTo(component string, addrs ...string) envelope.Routes {
	return envelope.Routes{Routes: map[string][]string{component: addrs}}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// init → hello → routes → component_starting/ready → ready, and the
// components serve calls.
func TestStart(t *testing.T) {
	ctx := context.Background()
	d := launch(t)
	init := newInit(t, calcName)
	d.send(init)
	hello := expect[envelope.Hello](d)
	if hello.Protocol != envelope.ProtocolVersion || hello.RPCAddress != init.RPCListen {
		t.Errorf("hello %+v", hello)
	}
	d.send(envelope.Routes{Routes: map[string][]string{}})
	if m := expect[envelope.ComponentStarting](d); m.Component != calcName {
		t.Errorf("component_starting %+v", m)
	}
	if m := expect[envelope.ComponentReady](d); m.Component != calcName || m.Time.IsZero() {
		t.Errorf("component_ready %+v", m)
	}
	expect[envelope.Ready](d)
	d.send(envelope.Ping{Seq: 9})
	if m := expect[envelope.Pong](d); m.Seq != 9 {
		t.Errorf("pong %+v, want seq 9", m)
	}
	// Drain hands the process's leaderships over (coordinfo's hooks run)
	// and it serves on.
	drained := make(chan struct{})
	defer coordinfo.OnDrain(func() { close(drained) })()
	d.send(envelope.Drain{})
	select {
	case <-drained:
	case <-time.After(10 * time.Second):
		t.Fatal("Drain ran no drain hook")
	}
	calc := client[testapp.Calc](t, hello.RPCAddress)
	if n, err := calc.Half(ctx, 8); err != nil || n != 4 {
		t.Errorf("Half(8) = %d, %v", n, err)
	}
	// The RPC server runs Init's deployment, and no other.
	other := clientOf[testapp.Calc](t, hello.RPCAddress, "test-ffffffffffff")
	if _, err := other.Half(ctx, 8); err == nil || !strings.Contains(err.Error(), deployment) {
		t.Errorf("a caller of another deployment: %v, want a refusal naming %s", err, deployment)
	}
}

// The rpc_advertise address is what Hello reports; a wildcard bind without
// one is refused.
func TestAdvertise(t *testing.T) {
	d := launch(t)
	init := newInit(t, calcName)
	init.RPCListen, init.RPCAdvertise = "tcp:127.0.0.1:0", "tcp:10.1.2.3:10000"
	d.send(init)
	if hello := expect[envelope.Hello](d); hello.RPCAddress != init.RPCAdvertise {
		t.Errorf("hello advertises %q, want %q", hello.RPCAddress, init.RPCAdvertise)
	}

	d = launch(t)
	init.RPCListen, init.RPCAdvertise = "tcp::0", ""
	d.send(init)
	f := expect[envelope.Failed](d)
	if !strings.Contains(f.Error, "rpc_advertise") {
		t.Errorf("failed %q, want it to ask for rpc_advertise", f.Error)
	}
}

// A caller follows the routes: once they name another replica, calls go
// there; once they name none, calls fail with the deployer's reason.
func TestRoutesChange(t *testing.T) {
	ctx := context.Background()
	_, calc1Addr := start(t, envelope.Routes{}, calcName)
	d2, calc2Addr := start(t, envelope.Routes{}, calcName)
	calc1, calc2 := client[testapp.Calc](t, calc1Addr), client[testapp.Calc](t, calc2Addr)
	d, frontAddr := start(t, routesTo(calcName, calc1Addr), frontName)
	front := client[testapp.Front](t, frontAddr)

	if n, err := front.HalfViaCalc(ctx, 6); err != nil || n != 3 {
		t.Fatalf("HalfViaCalc(6) = %d, %v", n, err)
	}
	if n, _ := calc1.Calls(ctx); n != 1 {
		t.Errorf("replica 1 served %d calls, want 1", n)
	}

	d.send(routesTo(calcName, calc2Addr))
	eventually(t, "a call to reach replica 2", func() bool {
		if _, err := front.HalfViaCalc(ctx, 2); err != nil {
			t.Fatalf("HalfViaCalc: %v", err)
		}
		n, err := calc2.Calls(ctx)
		return err == nil && n > 0
	})

	// Replica 2 goes away; the deployer says why.
	d2.send(envelope.Stop{})
	if err := d2.result(); err != nil {
		t.Errorf("replica 2 stopped with %v", err)
	}
	d.send(envelope.Routes{
		Routes:  map[string][]string{calcName: {}},
		Outages: map[string]envelope.Outage{calcName: {Reason: "stopped"}},
	})
	var err error
	eventually(t, "calls to fail with the outage", func() bool {
		_, err = front.HalfViaCalc(ctx, 2)
		return err != nil && strings.Contains(err.Error(), "stopped")
	})
	if !errors.Is(err, codegen.ErrUnavailable) || !strings.Contains(err.Error(), "component testapp.Calc is unavailable: stopped") {
		t.Errorf("got %v, want ErrUnavailable naming the component and the reason", err)
	}
}

// A peer that goes away while routes still name it fails calls with
// ErrUnavailable, not a hang.
func TestPeerGoesAway(t *testing.T) {
	ctx := context.Background()
	dc, calcAddr := start(t, envelope.Routes{}, calcName)
	_, frontAddr := start(t, routesTo(calcName, calcAddr), frontName)
	front := client[testapp.Front](t, frontAddr)
	if _, err := front.HalfViaCalc(ctx, 2); err != nil {
		t.Fatal(err)
	}
	dc.conn.Close() // the deployer of Calc's replica vanishes: it exits
	if err := dc.result(); err == nil || !strings.Contains(err.Error(), "deployer went away") {
		t.Errorf("Calc's replica returned %v, want the deployer's absence", err)
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err := front.HalfViaCalc(cctx, 2)
	if !errors.Is(err, codegen.ErrUnavailable) {
		t.Errorf("after the peer left: %v, want ErrUnavailable", err)
	}
}

// Unhealthy is sent once FailureThreshold checks in a row have failed,
// with the count.
func TestUnhealthyThreshold(t *testing.T) {
	d := launch(t)
	init := newInit(t, calcName)
	init.Health.FailureThreshold = 3
	d.send(init)
	hello := expect[envelope.Hello](d)
	d.send(envelope.Routes{})
	expect[envelope.Ready](d)
	if _, err := client[testapp.Calc](t, hello.RPCAddress).Sicken(context.Background()); err != nil {
		t.Fatal(err)
	}
	u := expect[envelope.Unhealthy](d)
	if u.Failures != 3 || !strings.Contains(u.Error, "sickened on request") {
		t.Errorf("first unhealthy %+v, want 3 failures and the check's error", u)
	}
	if u := expect[envelope.Unhealthy](d); u.Failures != 4 {
		t.Errorf("second unhealthy %+v, want 4 failures", u)
	}
}

// Stop: dependents shut down first, then Run returns nil and the socket
// closes.
func TestShutdownOrder(t *testing.T) {
	d, _ := start(t, envelope.Routes{}, calcName, frontName)
	d.send(envelope.Stop{})
	if err := d.result(); err != nil {
		t.Fatalf("Run after stop: %v", err)
	}
	if got, want := d.logs.shutdowns(), []string{"testapp.Front", "testapp.Calc"}; !reflect.DeepEqual(got, want) {
		t.Errorf("shut down %v, want %v (dependents first)", got, want)
	}
	for m := range d.msgs { // drains until EOF
		if f, ok := m.(envelope.Failed); ok {
			t.Errorf("failed %q after a stop", f.Error)
		}
	}
}

// An init of another protocol version is refused with Failed, saying what
// to upgrade.
func TestProtocolVersionMismatch(t *testing.T) {
	d := launch(t)
	fmt.Fprintf(d.raw, `{"type":"init","protocol":%d,"app":"test"}`+"\n", envelope.ProtocolVersion+1)
	err := d.result()
	if !errors.Is(err, envelope.ErrMismatch) {
		t.Errorf("Run returned %v, want ErrMismatch", err)
	}
	f := expect[envelope.Failed](d)
	if !strings.Contains(f.Error, "upgrade the app's github.com/pilotage/pilotage module") {
		t.Errorf("failed %q, want it to say what to upgrade", f.Error)
	}
}

// A message the proclet does not know ends it with an error, not silence.
func TestUnknownMessage(t *testing.T) {
	d, _ := start(t, envelope.Routes{}, calcName)
	io.WriteString(d.raw, `{"type":"rebalance"}`+"\n")
	if err := d.result(); err == nil || !strings.Contains(err.Error(), `"rebalance"`) {
		t.Errorf("Run returned %v, want an error naming the message type", err)
	}
	if f := expect[envelope.Failed](d); !strings.Contains(f.Error, "rebalance") {
		t.Errorf("failed %q", f.Error)
	}
}

// A logRecorder keeps the components of "shutdown" records, in order.
type logRecorder struct {
	mu    sync.Mutex
	order []string
}

func (r *logRecorder) handler() slog.Handler { return recorderHandler{rec: r} }

func (r *logRecorder) shutdowns() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.order...)
}

// A recorderHandler feeds a logRecorder.
type recorderHandler struct {
	rec   *logRecorder
	attrs []slog.Attr
}

func (h recorderHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h recorderHandler) Handle(_ context.Context, rec slog.Record) error {
	if rec.Message != "shutdown" {
		return nil
	}
	for _, a := range h.attrs {
		if a.Key == "component" {
			h.rec.mu.Lock()
			h.rec.order = append(h.rec.order, a.Value.String())
			h.rec.mu.Unlock()
		}
	}
	return nil
}

func (h recorderHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return recorderHandler{rec: h.rec, attrs: append(append([]slog.Attr(nil), h.attrs...), attrs...)}
}

func (h recorderHandler) WithGroup(string) slog.Handler { return h }

// TestStopBeforeRoutes: a Stop that comes before the first routes is an
// ordinary stop, not a failure.
func TestStopBeforeRoutes(t *testing.T) {
	d := launch(t)
	d.send(newInit(t, calcName))
	expect[envelope.Hello](d)
	d.send(envelope.Stop{})
	if err := d.result(); err != nil {
		t.Errorf("Run after a stop before routes = %v, want nil", err)
	}
}

// TestConnectRefusesOlderCommand: an app run by a pilotage command that
// predates the envelope (to describe it, or as a proclet) is refused
// rather than run as a whole local app.
func TestConnectRefusesOlderCommand(t *testing.T) {
	for _, v := range []string{"PILOTAGE_DESCRIBE", proclet.LegacyEnvVar} {
		t.Run(v, func(t *testing.T) {
			t.Setenv(envelope.EnvVar, "")
			t.Setenv(v, "1")
			_, ok, err := proclet.Connect()
			if !ok || !errors.Is(err, envelope.ErrMismatch) || !strings.Contains(err.Error(), "upgrade the pilotage command") {
				t.Errorf("Connect with $%s set = %v, %v; want a refusal saying to upgrade the command", v, ok, err)
			}
		})
	}
}
