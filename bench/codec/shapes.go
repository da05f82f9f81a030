// Package codec benchmarks pilotage's generated codec against protobuf-go,
// encoding/gob and encoding/json on the same three shapes.
package codec

import (
	"context"

	"github.com/pilotage/pilotage"
)

// Small is a struct with five fields.
type Small struct {
	ID      int64
	Name    string
	Price   float64
	InStock bool
	Count   int32
}

// Blob carries a 1 KiB payload.
type Blob struct {
	Data []byte
}

// Nested holds a slice of 100 structs and a map.
type Nested struct {
	Name  string
	Items []Small
	Index map[string]int64
}

// Shapes exists so that "pilotage generate" writes codecs for the shapes.
type Shapes interface {
	Echo(ctx context.Context, s Small, b Blob, n Nested) (Small, Blob, Nested, error)
}

type shapes struct {
	pilotage.Implements[Shapes]
}

func (*shapes) Echo(_ context.Context, s Small, b Blob, n Nested) (Small, Blob, Nested, error) {
	return s, b, n, nil
}
