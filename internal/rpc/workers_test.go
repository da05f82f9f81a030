package rpc

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A lone call runs on the connection's reader (no goroutine hand-off); if
// it runs long, the reading is handed on, so another call, a cancel and a
// ping are not held up behind it.
func TestLoneLongCallDoesNotHoldTheConnection(t *testing.T) {
	ts := startServer(t, "unix", ServerOptions{})
	c := ts.dial(t, DialOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Call(ctx, testComponent, mBlock, nil)
		errc <- err
	}()
	hctx := <-ts.blockCtx // the lone call is running
	start := time.Now()
	if _, err := c.Call(context.Background(), testComponent, mEcho, encodeBytes([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("a call behind a long-running lone call took %v", d)
	}
	cancel()
	select {
	case <-hctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the long call's handler never saw its cancel")
	}
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("the cancelled call returned %v", err)
	}
}
