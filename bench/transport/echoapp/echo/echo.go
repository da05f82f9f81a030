// Package echo is the component the cross-process transport benchmark
// calls under pilotage run.
package echo

import (
	"context"
	"os"

	"github.com/pilotage/pilotage"
	"github.com/pilotage/pilotage/bench/transport/loadgen"
)

// Echo returns what it is given.
type Echo interface {
	// Echo returns payload.
	Echo(ctx context.Context, payload []byte) ([]byte, error)
	// Mallocs returns the serving process's heap allocation count.
	Mallocs(ctx context.Context) (uint64, error)
}

type echo struct {
	pilotage.Implements[Echo]
	profile *os.File // see Init
}

func (*echo) Echo(_ context.Context, payload []byte) ([]byte, error) { return payload, nil }

func (*echo) Mallocs(context.Context) (uint64, error) { return loadgen.Mallocs(), nil }
