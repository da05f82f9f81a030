package codegen

import (
	"encoding"
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"time"
	"unsafe"
)

// An Encoder appends values to a byte slice. The zero value is ready to use.
// Encoding never panics: a failure (a BinaryMarshaler that errs, say) is kept
// and reported by Err.
type Encoder struct {
	buf   []byte
	err   error
	refs  []encoderRef // large values referenced, not copied (ReferLarge); in order
	refN  int          // their bytes
	refer bool
	// methodErr is the last non-nil error written by Error: a method's
	// error, for the runtime's telemetry (MethodError).
	methodErr error
}

// An encoderRef is a value written from its own memory, before buf[at:].
type encoderRef struct {
	at   int
	data []byte
}

// MinReferenced is the size from which an Encoder that refers to large
// values (ReferLarge) does not copy a byte slice or string.
const MinReferenced = 64 << 10

var encoderPool = sync.Pool{New: func() any { return &Encoder{buf: make([]byte, 0, 256)} }}

// GetEncoder returns an empty Encoder from a pool. Pass it to PutEncoder when
// its data is no longer referenced.
func GetEncoder() *Encoder { return encoderPool.Get().(*Encoder) }

// maxPooledEncoder is the largest buffer PutEncoder keeps: room for a 4 MiB
// value, so that calls with large arguments or results do not allocate
// their encoder's buffer each time.
const maxPooledEncoder = 4<<20 + 64<<10

// PutEncoder returns e to the pool used by GetEncoder.
func PutEncoder(e *Encoder) {
	if cap(e.buf) > maxPooledEncoder { // do not pin larger buffers
		return
	}
	e.Reset()
	encoderPool.Put(e)
}

// Reset empties e, keeping its buffer, and stops referring to large values.
func (e *Encoder) Reset() {
	clear(e.refs)
	e.buf, e.err, e.refs, e.refN, e.refer, e.methodErr = e.buf[:0], nil, e.refs[:0], 0, false, nil
}

// MethodError returns the last non-nil error written with Error since the
// last Reset: in a server stub's output, the error the method returned.
func (e *Encoder) MethodError() error { return e.methodErr }

// ReferLarge makes e refer to byte slices and strings of MinReferenced bytes
// or more rather than copy them, until Reset: Segments then returns them
// from their own memory, to be written out with vectored I/O. Whoever
// enables it must be done with the segments before that memory can change:
// the runtime does so for a handler's results, which the handler hands
// over when it returns (as a local call hands them to its caller).
func (e *Encoder) ReferLarge() { e.refer = true }

// Data returns the encoded bytes. They alias e's buffer. Values referred to
// (ReferLarge) are copied in first.
func (e *Encoder) Data() []byte {
	if len(e.refs) > 0 {
		flat := make([]byte, 0, e.Size())
		e.Segments(func(b []byte) { flat = append(flat, b...) })
		e.buf = flat
		clear(e.refs)
		e.refs, e.refN = e.refs[:0], 0
	}
	return e.buf
}

// Size returns the number of bytes encoded.
func (e *Encoder) Size() int { return len(e.buf) + e.refN }

// Segments calls f with the encoded bytes in order, values referred to
// (ReferLarge) from their own memory: at least one segment, none empty
// unless all is.
func (e *Encoder) Segments(f func([]byte)) {
	prev := 0
	for _, r := range e.refs {
		if r.at > prev {
			f(e.buf[prev:r.at])
		}
		f(r.data)
		prev = r.at
	}
	if prev < len(e.buf) || len(e.refs) == 0 {
		f(e.buf[prev:])
	}
}

// refers reports whether a value of n bytes is referred to, not copied.
func (e *Encoder) refers(n int) bool { return e.refer && n >= MinReferenced }

// Err returns the first error met while encoding.
func (e *Encoder) Err() error { return e.err }

// Fail records err unless an earlier error is recorded.
func (e *Encoder) Fail(err error) {
	if e.err == nil {
		e.err = err
	}
}

// Grow makes room for n more bytes.
func (e *Encoder) Grow(n int) {
	if cap(e.buf)-len(e.buf) < n {
		nb := make([]byte, len(e.buf), 2*cap(e.buf)+n)
		copy(nb, e.buf)
		e.buf = nb
	}
}

func (e *Encoder) Bool(v bool) {
	if v {
		e.buf = append(e.buf, 1)
	} else {
		e.buf = append(e.buf, 0)
	}
}

func (e *Encoder) Uint8(v uint8)   { e.buf = append(e.buf, v) }
func (e *Encoder) Int8(v int8)     { e.buf = append(e.buf, byte(v)) }
func (e *Encoder) Uint16(v uint16) { e.buf = binary.LittleEndian.AppendUint16(e.buf, v) }
func (e *Encoder) Int16(v int16)   { e.Uint16(uint16(v)) }
func (e *Encoder) Uint32(v uint32) { e.buf = binary.LittleEndian.AppendUint32(e.buf, v) }
func (e *Encoder) Int32(v int32)   { e.Uint32(uint32(v)) }
func (e *Encoder) Uint64(v uint64) { e.buf = binary.LittleEndian.AppendUint64(e.buf, v) }
func (e *Encoder) Int64(v int64)   { e.Uint64(uint64(v)) }
func (e *Encoder) Uint(v uint)     { e.Uint64(uint64(v)) }
func (e *Encoder) Int(v int)       { e.Uint64(uint64(v)) }
func (e *Encoder) Uintptr(v uintptr) {
	e.Uint64(uint64(v))
}
func (e *Encoder) Float32(v float32) { e.Uint32(math.Float32bits(v)) }
func (e *Encoder) Float64(v float64) { e.Uint64(math.Float64bits(v)) }
func (e *Encoder) Complex64(v complex64) {
	e.Float32(real(v))
	e.Float32(imag(v))
}
func (e *Encoder) Complex128(v complex128) {
	e.Float64(real(v))
	e.Float64(imag(v))
}

// Len writes a length; -1 stands for a nil slice or map.
func (e *Encoder) Len(n int) {
	if n > math.MaxInt32 {
		e.Fail(fmt.Errorf("codegen: length %d too large to encode", n))
		n = 0
	}
	e.Uint32(uint32(int32(n)))
}

// String writes a length-prefixed string.
func (e *Encoder) String(s string) {
	e.Len(len(s))
	if e.refers(len(s)) { // strings never change: safe to refer to
		e.refs = append(e.refs, encoderRef{at: len(e.buf), data: unsafe.Slice(unsafe.StringData(s), len(s))})
		e.refN += len(s)
		return
	}
	e.Grow(len(s))
	e.buf = append(e.buf, s...)
}

// Bytes writes a length-prefixed byte slice, keeping nil distinct from empty.
func (e *Encoder) Bytes(b []byte) {
	if b == nil {
		e.Len(-1)
		return
	}
	e.Len(len(b))
	if e.refers(len(b)) {
		e.refs = append(e.refs, encoderRef{at: len(e.buf), data: b})
		e.refN += len(b)
		return
	}
	e.Grow(len(b))
	e.buf = append(e.buf, b...)
}

// Time writes t with its zone offset; the monotonic reading is dropped.
func (e *Encoder) Time(t time.Time) {
	start := len(e.buf)
	e.buf = append(e.buf, 0) // length placeholder
	var err error
	e.buf, err = t.AppendBinary(e.buf)
	if err != nil {
		e.buf = e.buf[:start]
		e.Fail(fmt.Errorf("codegen: encode time: %w", err))
		e.buf = append(e.buf, 0)
		return
	}
	e.buf[start] = byte(len(e.buf) - start - 1)
}

// BinaryMarshaler writes m's binary form, length-prefixed.
func (e *Encoder) BinaryMarshaler(m encoding.BinaryMarshaler) {
	b, err := m.MarshalBinary()
	if err != nil {
		e.Fail(fmt.Errorf("codegen: encode %T: %w", m, err))
	}
	e.Bytes(b)
}
