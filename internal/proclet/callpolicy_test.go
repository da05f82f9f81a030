package proclet

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilotage/pilotage/codegen"
	"github.com/pilotage/pilotage/internal/config"
	"github.com/pilotage/pilotage/internal/envelope"
	"github.com/pilotage/pilotage/internal/rpc"
)

// A call whose context has no deadline gets its method's default one
// from [calls]; a caller's own deadline is kept.
func TestDefaultDeadline(t *testing.T) {
	const comp = "example.com/app/slow.Slow"
	srv := rpc.NewServer(rpc.ServerOptions{})
	block := func(ctx context.Context, _ []byte, _ *codegen.Encoder) error {
		<-ctx.Done()
		return ctx.Err()
	}
	if err := srv.Register(comp, []codegen.Handler{block, block}); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Close()

	cfg, err := config.Parse("p.toml", `
[calls.components."slow.Slow"]
timeout = "150ms"
methods = { Fast = "50ms" }
`)
	if err != nil {
		t.Fatal(err)
	}
	r := newRouter(rpc.DialOptions{}, nil)
	r.policy = newCallPolicy(cfg)
	defer r.close()
	r.update(envelope.Routes{Routes: map[string][]string{comp: {"unix:" + l.Addr().String()}}})
	caller := r.caller(codegen.Component{Interface: &codegen.Interface{Name: comp, Methods: []codegen.Method{{Name: "Fast"}, {Name: "Other"}}}})

	for m, want := range []time.Duration{50 * time.Millisecond, 150 * time.Millisecond} {
		t0 := time.Now()
		_, err := caller.Call(context.Background(), m, nil)
		took := time.Since(t0)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "default timeout") {
			t.Errorf("method %d: %v, want DeadlineExceeded naming the default timeout", m, err)
		}
		if took < want {
			t.Errorf("method %d failed after %v, before its default deadline of %v", m, took, want)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	if _, err := caller.Call(ctx, 0, nil); !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "default timeout") {
		t.Errorf("with the caller's deadline: %v", err)
	}
	if took := time.Since(t0); took < 300*time.Millisecond {
		t.Errorf("with the caller's 300ms deadline, failed after %v: the default replaced it", took)
	}
}
