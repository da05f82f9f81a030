package supervisor

import (
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/internal/config"
)

// buildShop builds examples/shop once per test binary.
var buildShop = sync.OnceValues(func() (string, error) {
	dir, err := filepath.Abs("../../../../examples/shop")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "..", "..", ".cache", "shop")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", &buildError{err, out}
	}
	return bin, nil
})

type buildError struct {
	err error
	out []byte
}

func (e *buildError) Error() string { return "build the shop: " + e.err.Error() + "\n" + string(e.out) }

// runShop starts the shop (6 components × 2 replicas but the cart) under a
// supervisor and returns it once ready, with how long that took from New.
func runShop(b *testing.B, bin string) (*Supervisor, time.Duration, func()) {
	cfg, err := config.Read(filepath.Join(filepath.Dir(bin), "..", "examples", "shop", "pilotage.toml"))
	if err != nil {
		b.Fatal(err)
	}
	cfg.Listeners["shop"] = config.Listener{Address: "127.0.0.1:0"}
	dir := b.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	t0 := time.Now()
	s, err := New(ctx, Options{App: "shop", Binary: bin, Dir: filepath.Dir(bin), Config: cfg, StateDir: dir, Stdout: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-s.Ready():
	case err := <-done:
		b.Fatalf("Run: %v", err)
	case <-time.After(20 * time.Second):
		b.Fatal("not ready in 20s")
	}
	return s, time.Since(t0), func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("Run: %v", err)
		}
	}
}

// BenchmarkShopStartup measures the example shop from supervisor start
// (describe, plan, spawn) to every replica ready. The binary is prebuilt.
func BenchmarkShopStartup(b *testing.B) {
	bin, err := buildShop()
	if err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	for b.Loop() {
		_, ready, stop := runShop(b, bin)
		total += ready
		stop()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-to-ready")
}

// BenchmarkReplicaRestart measures kill -9 of a replica to its replacement
// being ready. Each iteration kills a different replica, so every restart is
// a first one (no backoff); run it with -benchtime=Nx, N at most 11.
func BenchmarkReplicaRestart(b *testing.B) {
	bin, err := buildShop()
	if err != nil {
		b.Fatal(err)
	}
	s, _, stop := runShop(b, bin)
	defer stop()
	replica := func(unit string, i int) control.ReplicaStatus {
		for _, u := range s.Status().Units {
			if u.Name == unit {
				return u.Replicas[i]
			}
		}
		b.Fatalf("no %s in status", unit)
		return control.ReplicaStatus{}
	}
	type slot struct {
		unit string
		i    int
	}
	var slots []slot
	for _, u := range s.Status().Units {
		for i := range u.Replicas {
			slots = append(slots, slot{u.Name, i})
		}
	}
	var total time.Duration
	n := 0
	for b.Loop() {
		sl := slots[n%len(slots)]
		n++
		victim := replica(sl.unit, sl.i).PID
		t0 := time.Now()
		if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
			b.Fatal(err)
		}
		for {
			r := replica(sl.unit, sl.i)
			if r.State == control.Ready && r.PID != victim {
				break
			}
			if time.Since(t0) > 10*time.Second {
				b.Fatal("replica not replaced in 10s")
			}
			time.Sleep(time.Millisecond)
		}
		total += time.Since(t0)
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms-to-replaced")
}
