package codegen

import (
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
	"unsafe"
)

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("malformed message")

// A Decoder reads values written by an Encoder. It never panics on bad input:
// the first problem is kept, later reads return zero values, and Err reports it.
// Declare it as a value (var d Decoder; d.Reset(b)) to keep it off the heap.
type Decoder struct {
	data  []byte
	err   error
	owned int // length of the owned buffer being read (ResetOwned); 0: copy every value
}

// Reset makes d read b. Decoded byte slices and strings are copies, so b
// may be reused once decoding is done.
func (d *Decoder) Reset(b []byte) { d.data, d.err, d.owned = b, nil, 0 }

// MinAliased is the size from which a Decoder reading an owned buffer
// (ResetOwned) returns byte slices and strings that alias the buffer instead
// of copies.
const MinAliased = 4 << 10

// ResetOwned makes d read b, which the decoded values may keep: whoever
// hands b over must never modify or reuse it, once b is at least
// MinAliased bytes long (a shorter b cannot hold an aliased value). A byte
// slice or string of at least MinAliased bytes that is at least a quarter of
// b is then not copied but returned as part of b (a byte slice with its
// capacity cut at its length, so appending to it cannot write over the rest
// of b). So no value is copied twice on its way from the connection to the
// code that uses it, and a small value kept for long does not hold on to
// much more than itself: at most four times its size.
//
// The runtime hands generated code owned buffers (see Handler and Caller).
func (d *Decoder) ResetOwned(b []byte) { d.data, d.err, d.owned = b, nil, len(b) }

// aliases reports whether a value of n bytes is returned as part of the
// buffer rather than copied.
func (d *Decoder) aliases(n int) bool {
	return d.owned >= MinAliased && n >= MinAliased && 4*n >= d.owned
}

// Err returns the first decoding error.
func (d *Decoder) Err() error { return d.err }

// Done reports an error if decoding failed or input is left over.
func (d *Decoder) Done() error {
	if d.err == nil && len(d.data) != 0 {
		d.fail("%d unread bytes", len(d.data))
	}
	return d.err
}

// Fail records err as the decoding error unless one is recorded.
func (d *Decoder) Fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.data = nil
}

func (d *Decoder) fail(format string, args ...any) {
	d.Fail(fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...)))
}

func (d *Decoder) take(n int) []byte {
	if n > len(d.data) {
		d.fail("need %d bytes, have %d", n, len(d.data))
		return nil
	}
	b := d.data[:n:n]
	d.data = d.data[n:]
	return b
}

func (d *Decoder) Bool() bool {
	b := d.take(1)
	if b == nil {
		return false
	}
	if b[0] > 1 {
		d.fail("bad bool %d", b[0])
	}
	return b[0] == 1
}

func (d *Decoder) Uint8() uint8 {
	if len(d.data) < 1 {
		d.take(1)
		return 0
	}
	v := d.data[0]
	d.data = d.data[1:]
	return v
}

func (d *Decoder) Int8() int8 { return int8(d.Uint8()) }

func (d *Decoder) Uint16() uint16 {
	if len(d.data) < 2 {
		d.take(2)
		return 0
	}
	v := binary.LittleEndian.Uint16(d.data)
	d.data = d.data[2:]
	return v
}

func (d *Decoder) Int16() int16 { return int16(d.Uint16()) }

func (d *Decoder) Uint32() uint32 {
	if len(d.data) < 4 {
		d.take(4)
		return 0
	}
	v := binary.LittleEndian.Uint32(d.data)
	d.data = d.data[4:]
	return v
}

func (d *Decoder) Int32() int32 { return int32(d.Uint32()) }

func (d *Decoder) Uint64() uint64 {
	if len(d.data) < 8 {
		d.take(8)
		return 0
	}
	v := binary.LittleEndian.Uint64(d.data)
	d.data = d.data[8:]
	return v
}

func (d *Decoder) Int64() int64         { return int64(d.Uint64()) }
func (d *Decoder) Uint() uint           { return uint(d.Uint64()) }
func (d *Decoder) Int() int             { return int(d.Uint64()) }
func (d *Decoder) Uintptr() uintptr     { return uintptr(d.Uint64()) }
func (d *Decoder) Float32() float32     { return math.Float32frombits(d.Uint32()) }
func (d *Decoder) Float64() float64     { return math.Float64frombits(d.Uint64()) }
func (d *Decoder) Complex64() complex64 { return complex(d.Float32(), d.Float32()) }
func (d *Decoder) Complex128() complex128 {
	return complex(d.Float64(), d.Float64())
}

// Len reads a length written by Encoder.Len: -1 for nil. A length larger than
// the remaining input is rejected, since every element takes at least one
// byte; this bounds allocations on malformed input.
//
// Elements that encode to no bytes (struct{}, [0]T, structs of such) would
// make a valid length look too large, so Len must not be used for them: the
// generator refuses slices of such elements, and maps whose keys and values
// both are (internal/generate, encodesEmpty). Arrays are not length-prefixed.
func (d *Decoder) Len() int {
	n := int(int32(d.Uint32()))
	if n < -1 || n > len(d.data) {
		d.fail("bad length %d with %d bytes left", n, len(d.data))
		return 0
	}
	return n
}

// String reads a length-prefixed string.
func (d *Decoder) String() string {
	n := d.Len()
	if n <= 0 {
		return ""
	}
	b := d.take(n)
	if d.aliases(len(b)) {
		return unsafe.String(&b[0], len(b)) // n > 0 and the buffer is never modified
	}
	return string(b)
}

// Bytes reads a length-prefixed byte slice into fresh memory, or returns it
// as part of an owned buffer (see ResetOwned).
func (d *Decoder) Bytes() []byte {
	n := d.Len()
	if n < 0 {
		return nil
	}
	b := d.take(n)
	if b == nil {
		return nil
	}
	if d.aliases(n) {
		return b // take cut its capacity
	}
	out := make([]byte, n)
	copy(out, b)
	return out
}

// Time reads a time written by Encoder.Time.
func (d *Decoder) Time() time.Time {
	n := int(d.Uint8())
	b := d.take(n)
	var t time.Time
	if b != nil {
		if err := t.UnmarshalBinary(b); err != nil {
			d.fail("time: %v", err)
		}
	}
	return t
}

// BinaryUnmarshaler reads a value written by Encoder.BinaryMarshaler into u.
func (d *Decoder) BinaryUnmarshaler(u encoding.BinaryUnmarshaler) {
	n := d.Len()
	if n < 0 {
		return
	}
	b := d.take(n)
	if d.err != nil {
		return
	}
	if err := u.UnmarshalBinary(b); err != nil {
		d.fail("%T: %v", u, err)
	}
}
