package jsoncall

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilotage/pilotage/codegen"
	"github.com/pilotage/pilotage/internal/rpc"
)

const (
	testComp   = "example.com/shop/cart.Cart"
	deployment = "shop-0123456789ab"
)

var errEmpty = errors.New("cart is empty")

func init() { codegen.RegisterError("jsoncall_test.errEmpty", errEmpty) }

// testTarget has two methods, written as generated code writes them:
// Add(user string, n int) (int, error) and Clear(user string) error,
// which fails with errEmpty.
func testTarget() Target {
	add := func(_ context.Context, args []byte) ([]byte, error, error) {
		var user string
		var n int
		if err := codegen.DecodeJSONArgs(args, []string{"user", "n"}, &user, &n); err != nil {
			return nil, nil, err
		}
		res, err := codegen.EncodeJSONResults(len(user) + n)
		return res, nil, err
	}
	clear := func(_ context.Context, args []byte) ([]byte, error, error) {
		var user string
		if err := codegen.DecodeJSONArgs(args, []string{"user"}, &user); err != nil {
			return nil, nil, err
		}
		res, err := codegen.EncodeJSONResults()
		return res, errEmpty, err
	}
	return Target{Methods: []codegen.Method{{Name: "Add"}, {Name: "Clear"}}, JSON: []codegen.JSONHandler{add, clear}}
}

// serve starts an rpc.Server of deployment serving the JSON entry point of
// testTarget on a Unix socket, and returns its address.
func serve(t *testing.T) string {
	t.Helper()
	addr := filepath.Join(t.TempDir(), "rpc.sock")
	l, err := net.Listen("unix", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := rpc.NewServer(rpc.ServerOptions{Deployment: deployment})
	if err := srv.Register(Component, Handlers(map[string]Target{testComp: testTarget()})); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; !errors.Is(err, rpc.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return addr
}

func dial(t *testing.T, addr, dep string) (*rpc.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := rpc.Dial(ctx, "unix", addr, rpc.DialOptions{Deployment: dep})
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// A JSON call through a real connection returns the method's results and
// error, and refuses what cannot be called with an error saying why.
func TestCall(t *testing.T) {
	c, err := dial(t, serve(t), deployment)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	res, appErr, err := Call(ctx, c, testComp, "Add", []byte(`{"user": "alice", "n": 2}`))
	if string(res) != "7" || appErr != nil || err != nil {
		t.Errorf("Add = %s, %v, %v; want 7", res, appErr, err)
	}
	res, appErr, err = Call(ctx, c, testComp, "Clear", []byte(`["alice"]`))
	if string(res) != "null" || !errors.Is(appErr, errEmpty) || err != nil {
		t.Errorf("Clear = %s, %v, %v; want null and errEmpty", res, appErr, err)
	}

	for _, tc := range []struct {
		comp, method, args string
		want               string
		badArgs            bool
	}{
		{testComp, "Add", `{"user": "alice"}`, `call cart.Cart.Add: missing parameter "n"`, true},
		{testComp, "Add", `{"user": "alice", "n": "two"}`, `parameter "n": json: cannot unmarshal string`, true},
		{testComp, "Remove", `{}`, "component " + testComp + " has no method Remove", false},
		{"example.com/shop/catalog.Catalog", "List", ``, "component example.com/shop/catalog.Catalog is not hosted here", false},
	} {
		res, appErr, err := Call(ctx, c, tc.comp, tc.method, []byte(tc.args))
		if res != nil || appErr != nil || err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, codegen.ErrJSONArguments) != tc.badArgs {
			t.Errorf("%s.%s(%s) = %s, %v, %v; want an error containing %q (bad arguments: %t)", tc.comp, tc.method, tc.args, res, appErr, err, tc.want, tc.badArgs)
		}
	}
}

// A caller of another deployment is refused before any call is made.
func TestCallOtherDeployment(t *testing.T) {
	_, err := dial(t, serve(t), "shop-ffffffffffff")
	if !errors.Is(err, rpc.ErrDeploymentMismatch) || !errors.Is(err, codegen.ErrUnavailable) {
		t.Errorf("Dial with another deployment = %v, want ErrDeploymentMismatch", err)
	}
}
