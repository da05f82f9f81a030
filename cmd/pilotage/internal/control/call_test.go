package control

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
)

// callBackend is a CallBackend that echoes what it was asked.
type callBackend struct {
	*sliceBackend
	mu   sync.Mutex
	left time.Duration // of the last call's context
}

func (b *callBackend) Call(ctx context.Context, path, method string, args []byte) (*api.CallResult, error) {
	dl, _ := ctx.Deadline()
	b.mu.Lock()
	b.left = time.Until(dl)
	b.mu.Unlock()
	switch method {
	case "Fail":
		return &api.CallResult{Component: "example.com/c.C", Method: method, Replica: "c.C/0", Result: json.RawMessage("null"), Error: "it failed"}, nil
	case "Bad":
		return nil, api.Errorf(api.CodeBadRequest, "call c.C.Bad: missing parameter %q", "x")
	}
	echo, err := json.Marshal(map[string]string{"path": path, "args": string(args)})
	if err != nil {
		return nil, err
	}
	return &api.CallResult{Component: "example.com/c.C", Method: method, Replica: "c.C/1", Result: echo}, nil
}

func (b *callBackend) lastLeft() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.left
}

// /v2/call carries the method, arguments and the caller's deadline to the
// backend, and its result or refusal back; a backend that calls nothing
// answers not_found.
func TestCall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const path = "/apps/shop/components/c.C"
	b := &callBackend{sliceBackend: newSliceBackend()}
	b.set(t, api.KindComponent, path, api.ComponentStatus{FullName: "example.com/c.C"})
	dir := tempDir(t)
	srv, err := Listen(dir, b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := Dial(dir)
	defer c.Close()

	res, err := c.Call(ctx, path, "Echo", []byte(`{"x": [1, 2]}`))
	if err != nil || res.Replica != "c.C/1" || res.Method != "Echo" || string(res.Result) != `{"args":"{\"x\": [1, 2]}","path":"/apps/shop/components/c.C"}` {
		t.Errorf("Echo = %+v (%s), %v", res, res.Result, err)
	}
	if left := b.lastLeft(); left <= 15*time.Second || left > 20*time.Second {
		t.Errorf("the backend's call had %v left, want a little less than the caller's 20s", left)
	}
	if _, err := c.Call(context.Background(), path, "Echo", nil); err != nil {
		t.Errorf("Echo without a deadline: %v", err)
	}
	if left := b.lastLeft(); left <= DefaultCallTimeout-5*time.Second || left > DefaultCallTimeout {
		t.Errorf("without a deadline, the backend's call had %v left, want DefaultCallTimeout", left)
	}
	if res, err := c.Call(ctx, path, "Fail", nil); err != nil || res.Error != "it failed" || string(res.Result) != "null" {
		t.Errorf("Fail = %+v, %v; want a result with the method's error", res, err)
	}
	for _, tc := range []struct {
		path, method string
		code         error
		want         string
	}{
		{path, "Bad", api.ErrBadRequest, `call c.C.Bad: missing parameter "x"`},
		{path, "", api.ErrBadRequest, "no method given"},
		{"/apps/shop/components/d.D", "Echo", api.ErrNotFound, "no resource at /apps/shop/components/d.D"},
	} {
		if _, err := c.Call(ctx, tc.path, tc.method, nil); !errors.Is(err, tc.code) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("call %s %q = %v, want %v saying %q", tc.path, tc.method, err, tc.code, tc.want)
		}
	}

	plain := tempDir(t)
	srv2, err := Listen(plain, newSliceBackend(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Close()
	c2 := Dial(plain)
	defer c2.Close()
	if _, err := c2.Call(ctx, path, "Echo", nil); !errors.Is(err, api.ErrNotFound) || !strings.Contains(err.Error(), "calls no methods") {
		t.Errorf("a backend without calls: %v", err)
	}
}
