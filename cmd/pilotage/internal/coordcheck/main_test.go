package coordcheck

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pilotage/pilotage/coord"
)

// The test binary doubles as the client processes of TestEtcdLinearizable,
// selected by the environment:
//
//	COORDCHECK_CLIENT=kv|locks  run that workload (RunKV or RunLocks)
//	COORDCHECK_ENDPOINT         the store's client URL
//	COORDCHECK_PREFIX           the Store's prefix
//	COORDCHECK_NAME             the client's name: its replica, and the prefix of its clients in the history
//	COORDCHECK_KEYS             the keys (kv) or lock names (locks), comma-separated
//	COORDCHECK_WORKERS          how many goroutines run the workload
//	COORDCHECK_TTL              the session's lease TTL
//	COORDCHECK_SEED             the seed of the random operations
//
// A client writes its records to stdout, one line each, and stops, closes
// its Store and exits once stdin ends.
func TestMain(m *testing.M) {
	if role := os.Getenv("COORDCHECK_CLIENT"); role != "" {
		if err := runClient(role); err != nil {
			fmt.Fprintf(os.Stderr, "coordcheck client: %v\n", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	// The clients exit at once, not after the race detector's default
	// second.
	if g := os.Getenv("GORACE"); !strings.Contains(g, "atexit_sleep_ms") {
		os.Setenv("GORACE", strings.TrimSpace(g+" atexit_sleep_ms=0"))
	}
	os.Exit(m.Run())
}

// connect connects to the store, trying again for a few seconds: a client
// paused while it starts its session (SIGSTOP past its lease) fails to.
func connect(opts coord.Options) (*coord.Store, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		s, err := coord.Connect(ctx, opts)
		if err == nil || ctx.Err() != nil {
			return s, err
		}
		fmt.Fprintf(os.Stderr, "coordcheck client: %v; trying again\n", err)
		time.Sleep(50 * time.Millisecond)
	}
}

// runClient is the main of a client process.
func runClient(role string) error {
	name := os.Getenv("COORDCHECK_NAME")
	keys := strings.Split(os.Getenv("COORDCHECK_KEYS"), ",")
	workers, err := strconv.Atoi(os.Getenv("COORDCHECK_WORKERS"))
	if err != nil {
		return fmt.Errorf("COORDCHECK_WORKERS: %w", err)
	}
	ttl, err := time.ParseDuration(os.Getenv("COORDCHECK_TTL"))
	if err != nil {
		return fmt.Errorf("COORDCHECK_TTL: %w", err)
	}
	seed, err := strconv.ParseUint(os.Getenv("COORDCHECK_SEED"), 10, 64)
	if err != nil {
		return fmt.Errorf("COORDCHECK_SEED: %w", err)
	}
	s, err := connect(coord.Options{
		Endpoints: []string{os.Getenv("COORDCHECK_ENDPOINT")},
		Prefix:    os.Getenv("COORDCHECK_PREFIX"),
		Replica:   name,
		PID:       os.Getpid(),
		TTL:       ttl,
	})
	if err != nil {
		return err
	}
	defer s.Close()

	var stopped atomic.Bool
	go func() {
		// Stop once the test closes stdin (or dies).
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
		}
		stopped.Store(true)
	}()
	rec := NewLineRecorder(os.Stdout)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for g := range workers {
		w := Workload{Store: s, Rec: rec, Client: fmt.Sprintf("%s.g%d", name, g), Rand: rand.New(rand.NewPCG(seed, uint64(g))), Stop: stopped.Load}
		wg.Go(func() {
			var err error
			if role == "kv" {
				err = w.RunKV(context.Background(), keys)
			} else {
				err = w.RunLocks(context.Background(), keys)
			}
			if err != nil {
				errs <- fmt.Errorf("%s: %w", w.Client, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	return s.Close()
}
