package host

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/pilotage/pilotage/codegen"
	"github.com/pilotage/pilotage/internal/rpc"
)

// loopbackDeployment is the deployment id of both ends of RPC mode: one
// process, one build.
const loopbackDeployment = "pilotagetest-rpc"

// loopback serves this process's components over a real Unix socket and
// calls them through a client connection to it: RPC mode.
type loopback struct {
	dir           string
	server        *rpc.Server
	conn          *rpc.Conn
	injectRetries bool // see Options.InjectRetries
}

func newLoopback(injectRetries bool) (*loopback, error) {
	dir, err := os.MkdirTemp("", "pilotage-rpc-")
	if err != nil {
		return nil, fmt.Errorf("rpc mode: %w", err)
	}
	sock := filepath.Join(dir, "rpc.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("rpc mode: %w", err)
	}
	lb := &loopback{dir: dir, server: rpc.NewServer(rpc.ServerOptions{Deployment: loopbackDeployment}), injectRetries: injectRetries}
	go lb.server.Serve(l) // returns when close shuts the server down
	if lb.conn, err = rpc.Dial(context.Background(), "unix", sock, rpc.DialOptions{Deployment: loopbackDeployment}); err != nil {
		lb.server.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("rpc mode: %w", err)
	}
	return lb, nil
}

// serve registers impl's server stub and returns a client stub reaching it.
func (lb *loopback) serve(comp codegen.Component, impl any) (any, error) {
	if err := lb.server.Register(comp.Name, comp.ServerStub(impl)); err != nil {
		return nil, fmt.Errorf("serve %s: %w", comp.Name, err)
	}
	c := connCaller{conn: lb.conn, component: comp.Name}
	if lb.injectRetries {
		c.retry = make([]bool, len(comp.Methods))
		for i, m := range comp.Methods {
			c.retry[i] = m.Idempotent
		}
	}
	return comp.ClientStub(c), nil
}

func (lb *loopback) close(ctx context.Context) error {
	lb.conn.Close()
	err := lb.server.Shutdown(ctx)
	os.RemoveAll(lb.dir)
	if err != nil {
		return fmt.Errorf("rpc mode: stop server: %w", err)
	}
	return nil
}

// connCaller sends one component's calls over a single connection.
type connCaller struct {
	conn      *rpc.Conn
	component string
	retry     []bool // by method index: send the call twice (injected retry)
}

func (c connCaller) Call(ctx context.Context, m int, args []byte) ([]byte, error) {
	if m >= 0 && m < len(c.retry) && c.retry[m] {
		// The first attempt runs the method; its reply, result or error,
		// is dropped as if lost on the way back, and the call is retried.
		// Once ctx is done the retry fails with ctx's error, as a real
		// one would.
		_, _ = c.conn.Call(ctx, c.component, m, args)
	}
	return c.conn.Call(ctx, c.component, m, args)
}
