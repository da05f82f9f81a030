package codegen

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

// manyErrors registers a few hundred sentinels, as a generated application
// that registers the exported errors of every package it reaches does.
var manyErrors = sync.OnceValue(func() []error {
	errs := make([]error, 300)
	for i := range errs {
		errs[i] = fmt.Errorf("bench error %d", i)
		RegisterError(fmt.Sprintf("bench.Err%d", i), errs[i])
	}
	return errs
})

// BenchmarkEncodeError measures Encoder.Error with a few hundred registered
// errors, for a wrapped registered sentinel, an unregistered error, and a
// panic error (matched through its Is method).
func BenchmarkEncodeError(b *testing.B) {
	errs := manyErrors()
	for _, bc := range []struct {
		name string
		err  error
	}{
		{"wrapped", fmt.Errorf("op: %w", errs[250])},
		{"plain", errors.New("not registered")},
		{"panic", PanicError("c.C", "M", "oops")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var e Encoder
			b.ReportAllocs()
			for b.Loop() {
				e.Reset()
				e.Error(bc.err)
			}
		})
	}
}
