package rpc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pilotage/pilotage/codegen"
)

const testComponent = "github.com/pilotage/pilotage/internal/rpc.Test"

// Method indexes of the test component.
const (
	mEcho       = iota // decodes bytes, encodes them back
	mBlock             // reports its ctx, blocks until it is done
	mPanic             // panics
	mBoom              // returns errBoom
	mSlow              // sleeps 200ms, then echoes
	mUnavail           // the method itself fails with an error wrapping ErrUnavailable
	mBlockFirst        // like mBlock the first time blockFirst is seen false, else like mEcho
	mSleep             // sleeps for the duration its args encode (sleepArgs), then succeeds
)

var errBoom = errors.New("boom")

func init() { codegen.RegisterError("rpc_test.errBoom", errBoom) }

// testHandlers observes what the handlers saw.
type testHandlers struct {
	blockCtx chan context.Context // mBlock sends its ctx here
	started  chan struct{}        // mSlow signals its start
	calls    atomic.Int64         // invocations of every method

	blockFirst *atomic.Bool // for mBlockFirst; may be shared between servers
}

func newTestHandlers() *testHandlers {
	return &testHandlers{blockCtx: make(chan context.Context, 16), started: make(chan struct{}, 1024), blockFirst: new(atomic.Bool)}
}

func (th *testHandlers) handlers() []codegen.Handler {
	echo := func(_ context.Context, args []byte, out *codegen.Encoder) error {
		var d codegen.Decoder
		d.ResetOwned(args) // as generated code does
		b := d.Bytes()
		if err := d.Done(); err != nil {
			return err
		}
		out.Bytes(b)
		return nil
	}
	return []codegen.Handler{
		mEcho: func(ctx context.Context, args []byte, out *codegen.Encoder) error {
			th.calls.Add(1)
			return echo(ctx, args, out)
		},
		mBlock: func(ctx context.Context, _ []byte, _ *codegen.Encoder) error {
			th.calls.Add(1)
			th.blockCtx <- ctx
			<-ctx.Done()
			return ctx.Err()
		},
		mPanic: func(context.Context, []byte, *codegen.Encoder) error {
			th.calls.Add(1)
			panic("kaboom")
		},
		mBoom: func(context.Context, []byte, *codegen.Encoder) error {
			th.calls.Add(1)
			return fmt.Errorf("wrapped: %w", errBoom)
		},
		mSlow: func(ctx context.Context, args []byte, out *codegen.Encoder) error {
			th.calls.Add(1)
			th.started <- struct{}{}
			time.Sleep(200 * time.Millisecond)
			return echo(ctx, args, out)
		},
		mUnavail: func(context.Context, []byte, *codegen.Encoder) error {
			th.calls.Add(1)
			return fmt.Errorf("downstream: %w", codegen.ErrUnavailable)
		},
		mBlockFirst: func(ctx context.Context, args []byte, out *codegen.Encoder) error {
			th.calls.Add(1)
			if th.blockFirst.CompareAndSwap(false, true) {
				th.blockCtx <- ctx
				<-ctx.Done()
				return ctx.Err()
			}
			return echo(ctx, args, out)
		},
		mSleep: func(_ context.Context, args []byte, _ *codegen.Encoder) error {
			th.calls.Add(1)
			var d codegen.Decoder
			d.Reset(args)
			dur := time.Duration(d.Int64())
			if err := d.Done(); err != nil {
				return err
			}
			time.Sleep(dur)
			return nil
		},
	}
}

// sleepArgs encodes the arguments of mSleep.
func sleepArgs(d time.Duration) []byte {
	var e codegen.Encoder
	e.Int64(int64(d))
	return e.Data()
}

type testServer struct {
	*testHandlers
	srv     *Server
	network string
	addr    string
	served  chan error
}

// startServer serves the test component on a fresh listener.
func startServer(t *testing.T, network string, opts ServerOptions) *testServer {
	t.Helper()
	var l net.Listener
	var err error
	switch network {
	case "unix":
		l, err = net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	default:
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{testHandlers: newTestHandlers(), srv: NewServer(opts), network: network, addr: l.Addr().String(), served: make(chan error, 1)}
	if err := ts.srv.Register(testComponent, ts.handlers()); err != nil {
		t.Fatal(err)
	}
	go func() { ts.served <- ts.srv.Serve(l) }()
	t.Cleanup(func() {
		ts.srv.Close()
		if err := <-ts.served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
	return ts
}

// poolAddr is the server's address in Pool syntax.
func (ts *testServer) poolAddr() string { return ts.network + "://" + ts.addr }

func (ts *testServer) dial(t *testing.T, opts DialOptions) *Conn {
	t.Helper()
	c, err := Dial(context.Background(), ts.network, ts.addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func encodeBytes(b []byte) []byte {
	var e codegen.Encoder
	e.Bytes(b)
	return e.Data()
}

func decodeBytes(t *testing.T, res []byte) []byte {
	t.Helper()
	var d codegen.Decoder
	d.Reset(res)
	b := d.Bytes()
	if err := d.Done(); err != nil {
		t.Fatalf("decode result: %v", err)
	}
	return b
}

// forNetworks runs f over a Unix socket and over loopback TCP.
func forNetworks(t *testing.T, f func(t *testing.T, network string)) {
	for _, n := range []string{"unix", "tcp"} {
		t.Run(n, func(t *testing.T) {
			t.Parallel()
			f(t, n)
		})
	}
}

// preface returns the preface of a peer of no deployment announcing
// maxFrame.
func preface(maxFrame int) []byte { return encodePreface(maxFrame, "") }
