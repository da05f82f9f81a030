package rpc

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/pilotage/pilotage/codegen"
)

const keeperComponent = "github.com/pilotage/pilotage/internal/rpc.Keeper"

// keeper is a handler that keeps its decoded arguments after it returns, as
// an implementation may: a byte slice and a string, which alias the
// request's memory when large (codegen.Decoder.ResetOwned).
type keeper struct {
	mu      sync.Mutex
	bytes   map[int][]byte // by call number
	strs    map[int]string
	aliased int // large byte slices that pointed into args
}

func (k *keeper) handle(_ context.Context, args []byte, out *codegen.Encoder) error {
	var d codegen.Decoder
	d.ResetOwned(args)
	n := d.Int()
	b := d.Bytes()
	s := d.String()
	if err := d.Done(); err != nil {
		return err
	}
	k.mu.Lock()
	k.bytes[n], k.strs[n] = b, s
	if len(b) >= codegen.MinAliased && &b[0] == &args[12] { // after the int and b's length
		k.aliased++
	}
	k.mu.Unlock()
	out.Bytes(b)
	return nil
}

// fill is the payload of call n: size bytes, distinct from other calls'.
func fill(n, size int) []byte {
	return bytes.Repeat([]byte{byte(n), byte(n >> 8), 0xA5}, size/3+1)[:size]
}

// A handler that keeps its arguments after it returns, and a caller that
// keeps its results, see them intact however many calls follow on the
// connection (whose buffers are pooled and reused): values that alias the
// frame they came in belong to whoever decoded them.
func TestDecodedValuesOutliveTheCall(t *testing.T) {
	forNetworks(t, func(t *testing.T, network string) {
		ts := startServer(t, network, ServerOptions{})
		k := &keeper{bytes: map[int][]byte{}, strs: map[int]string{}}
		if err := ts.srv.Register(keeperComponent, []codegen.Handler{k.handle}); err != nil {
			t.Fatal(err)
		}
		c := ts.dial(t, DialOptions{})
		sizes := []int{0, 100, codegen.MinAliased - 1, codegen.MinAliased, 64 << 10, 1 << 20}
		const rounds = 4
		var wg sync.WaitGroup
		var mu sync.Mutex
		results := map[int][]byte{}
		for r := range rounds {
			for i, size := range sizes {
				n := r*len(sizes) + i
				wg.Go(func() {
					enc := codegen.GetEncoder()
					enc.Int(n)
					enc.Bytes(fill(n, size))
					enc.String(string(fill(n+1000, size)))
					res, err := c.Call(context.Background(), keeperComponent, 0, enc.Data())
					codegen.PutEncoder(enc)
					if err != nil {
						t.Errorf("call %d: %v", n, err)
						return
					}
					var d codegen.Decoder
					d.ResetOwned(res) // as generated client stubs do
					b := d.Bytes()
					if err := d.Done(); err != nil {
						t.Errorf("call %d: %v", n, err)
					}
					mu.Lock()
					results[n] = b
					mu.Unlock()
				})
			}
		}
		wg.Wait()
		// More traffic over the same buffers before looking.
		for range 20 {
			if _, err := c.Call(context.Background(), testComponent, mEcho, encodeBytes(fill(7, 64<<10))); err != nil {
				t.Fatal(err)
			}
		}
		k.mu.Lock()
		defer k.mu.Unlock()
		for n := range rounds * len(sizes) {
			size := sizes[n%len(sizes)]
			if got, want := k.bytes[n], fill(n, size); !bytes.Equal(got, want) {
				t.Errorf("call %d (%d bytes): the handler's kept bytes changed: %s", n, size, diff(got, want))
			}
			if got, want := k.strs[n], string(fill(n+1000, size)); got != want {
				t.Errorf("call %d (%d bytes): the handler's kept string changed: %s", n, size, diff([]byte(got), []byte(want)))
			}
			if got, want := results[n], fill(n, size); !bytes.Equal(got, want) {
				t.Errorf("call %d (%d bytes): the caller's kept result changed: %s", n, size, diff(got, want))
			}
		}
		// The large ones were not copied: the test tests what it means to.
		if want := 3 * rounds; k.aliased != want {
			t.Errorf("%d large arguments aliased their request, want %d", k.aliased, want)
		}
	})
}

func diff(got, want []byte) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d bytes, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Sprintf("byte %d is %#x, want %#x", i, got[i], want[i])
		}
	}
	return "equal"
}
