package testapp

import (
	"context"
	"testing"

	"github.com/pilotage/pilotage/pilotagetest"
)

// BenchmarkCall compares a call to a co-located component (through its
// generated local stub) and an RPC-mode call with a plain interface method
// call on the same implementation.
func BenchmarkCall(b *testing.B) {
	ctx := context.Background()
	b.Run("direct", func(b *testing.B) {
		var c Calc = &calc{}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Half(ctx, 4); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, r := range pilotagetest.AllRunners() {
		r.Bench(b, func(b *testing.B, c Calc) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Half(ctx, 4); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
