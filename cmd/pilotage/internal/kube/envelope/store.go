package envelope

import (
	"context"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// storeCheckTimeout bounds one check that the coordination store
// answers.
const storeCheckTimeout = 2 * time.Second

// awaitStore waits until the app's coordination store answers a
// linearizable read (so a majority of its members serve), as "pilotage
// run" has its store serving before a replica that uses it starts.
func (e *podEnvelope) awaitStore(ctx context.Context) error {
	c := e.s.Coordination
	if c == nil {
		return nil
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints, DialTimeout: storeCheckTimeout, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	defer cli.Close()
	var last time.Time
	for {
		cctx, cancel := context.WithTimeout(ctx, storeCheckTimeout)
		_, err := cli.Get(cctx, c.Prefix+"health")
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Since(last) >= waitLog {
			e.logf("waiting for the coordination store at %s before starting: %v", strings.Join(c.Endpoints, ", "), err)
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
