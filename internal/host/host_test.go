package host_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"reflect"
	"strings"
	"testing"

	_ "github.com/pilotage/pilotage" // sets host.Inspect
	"github.com/pilotage/pilotage/codegen"
	"github.com/pilotage/pilotage/internal/config"
	"github.com/pilotage/pilotage/internal/host"
	"github.com/pilotage/pilotage/internal/testapp"
)

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// A component whose Init fails releases its listener, so a retry (or
// another process) can bind the address again.
func TestFailedInitReleasesListener(t *testing.T) {
	addr := freeAddr(t)
	cfg, err := config.Parse("test.toml", fmt.Sprintf("[listeners.site]\naddress = %q\n[components.\"testapp.Web\"]\nfail_init = true\n", addr))
	if err != nil {
		t.Fatal(err)
	}
	h, err := host.New(host.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Shutdown(context.Background())
	for range 2 { // the second attempt must not see "declared twice"
		_, err := h.Get(context.Background(), reflect.TypeFor[testapp.Web]())
		if err == nil || !strings.Contains(err.Error(), "init github.com/pilotage/pilotage/internal/testapp.Web: told to fail") {
			t.Fatalf("Get = %v; want the Init error", err)
		}
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listener address still held after the failed Init: %v", err)
	}
	l.Close()
}

// New checks the whole configuration before anything starts, in Local mode
// (go run .) as in the others: a component section that does not decode
// into its config type, even of a component nothing would start, a section
// for a component without config, and a [listeners.X] no component
// declares. Every problem is reported, with its place in the file.
func TestNewChecksConfigUpFront(t *testing.T) {
	cfg, err := config.Parse("test.toml", `[components."testapp.Web"]
fail_init = true
bsae = "/"

[components."testapp.Calc"]
x = 1

[listeners.sitee]
address = "127.0.0.1:0"
`)
	if err != nil {
		t.Fatal(err)
	}
	h, err := host.New(host.Options{Mode: host.Local, Config: cfg})
	if err == nil {
		h.Shutdown(context.Background())
		t.Fatal("New accepted the configuration")
	}
	for _, want := range []string{
		`test.toml:3:9: unknown key "components.\"testapp.Web\".bsae"`,
		`test.toml:5: [components."testapp.Calc"]: github.com/pilotage/pilotage/internal/testapp.Calc takes no configuration`,
		`test.toml:8: [listeners.sitee] names no listener of this application (known: site)`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("New: %v\nwant an error containing %q", err, want)
		}
	}
}

// inProcess is a codegen.Caller that serves calls with a component's server
// stub, as another process would.
type inProcess struct {
	handlers []codegen.Handler
	calls    int
}

func (c *inProcess) Call(ctx context.Context, m int, args []byte) ([]byte, error) {
	c.calls++
	out := codegen.GetEncoder()
	defer codegen.PutEncoder(out)
	// The handler owns its args (codegen.Handler); the caller's encoder
	// will be reused.
	if err := c.handlers[m](ctx, bytes.Clone(args), out); err != nil {
		return nil, err
	}
	return append([]byte(nil), out.Data()...), nil
}

// In Multi mode a process starts only its hosted components; calls to the
// others go through Remote, and hosted components are exposed through Serve.
func TestMultiHostsOnlyItsComponents(t *testing.T) {
	const front, calc = "github.com/pilotage/pilotage/internal/testapp.Front", "github.com/pilotage/pilotage/internal/testapp.Calc"
	remote := &inProcess{}
	other, err := host.New(host.Options{}) // stands in for the process hosting Calc
	if err != nil {
		t.Fatal(err)
	}
	defer other.Shutdown(context.Background())
	var served []string
	h, err := host.New(host.Options{
		Mode:   host.Multi,
		Hosted: map[string]bool{front: true},
		Remote: func(c codegen.Component) codegen.Caller {
			if c.Name != calc {
				t.Errorf("Remote(%s): only Calc is reached remotely", c.Name)
			}
			impl, err := other.Instance(context.Background(), c.Type)
			if err != nil {
				t.Fatal(err)
			}
			remote.handlers = c.ServerStub(impl)
			return remote
		},
		Serve: func(c codegen.Component, _ []codegen.Handler) error {
			served = append(served, c.Name)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Shutdown(context.Background())
	if err := h.StartAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(served, []string{front}) {
		t.Errorf("served %v, want only %s", served, front)
	}
	f, err := h.Get(context.Background(), reflect.TypeFor[testapp.Front]())
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.(testapp.Front).HalfViaCalc(context.Background(), 10)
	if err != nil || got != 5 || remote.calls != 1 {
		t.Errorf("HalfViaCalc(10) = %d, %v with %d remote calls; want 5 through one remote call", got, err, remote.calls)
	}
}
