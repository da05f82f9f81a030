package codegen

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestRoundTripBasics(t *testing.T) {
	var e Encoder
	now := time.Date(2026, 11, 21, 22, 18, 0, 123, time.FixedZone("X", 3600))
	e.Bool(true)
	e.Int8(-8)
	e.Uint16(65535)
	e.Int32(math.MinInt32)
	e.Int(-1)
	e.Uint64(math.MaxUint64)
	e.Float32(1.5)
	e.Float64(math.Inf(-1))
	e.Complex128(complex(1, -2))
	e.String("héllo")
	e.Bytes(nil)
	e.Bytes([]byte{})
	e.Time(now)
	e.Time(time.Time{})
	e.BinaryMarshaler(netip.MustParseAddr("::1"))

	var d Decoder
	d.Reset(e.Data())
	if !d.Bool() || d.Int8() != -8 || d.Uint16() != 65535 || d.Int32() != math.MinInt32 || d.Int() != -1 ||
		d.Uint64() != math.MaxUint64 || d.Float32() != 1.5 || !math.IsInf(d.Float64(), -1) || d.Complex128() != complex(1, -2) ||
		d.String() != "héllo" {
		t.Fatal("basic values changed in a round trip")
	}
	if b := d.Bytes(); b != nil {
		t.Errorf("nil bytes decoded as %v", b)
	}
	if b := d.Bytes(); b == nil || len(b) != 0 {
		t.Errorf("empty bytes decoded as %v", b)
	}
	if got := d.Time(); !got.Equal(now) || got.Format(time.RFC3339) != now.Format(time.RFC3339) {
		t.Errorf("time = %v, want %v with its zone", got, now)
	}
	if got := d.Time(); !got.IsZero() {
		t.Errorf("zero time = %v", got)
	}
	var addr netip.Addr
	d.BinaryUnmarshaler(&addr)
	if addr.String() != "::1" {
		t.Errorf("addr = %v", addr)
	}
	if err := d.Done(); err != nil {
		t.Fatal(err)
	}
}

func TestDecoderRejectsMalformedInput(t *testing.T) {
	for name, input := range map[string][]byte{
		"short int":         {1, 2, 3},
		"length past end":   {0xff, 0xff, 0, 0, 'a'},
		"negative length":   {0xfe, 0xff, 0xff, 0xff},
		"bool out of range": {7},
	} {
		var d Decoder
		d.Reset(input)
		switch name {
		case "short int":
			d.Int64()
		case "bool out of range":
			d.Bool()
		default:
			_ = d.String()
		}
		if err := d.Err(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
		// Reads after a failure return zero values instead of panicking.
		if d.Int64() != 0 || d.String() != "" || d.Bytes() != nil {
			t.Errorf("%s: reads after failure returned data", name)
		}
	}
	var d Decoder
	d.Reset([]byte{1, 2})
	d.Uint8()
	if err := d.Done(); err == nil || !strings.Contains(err.Error(), "1 unread bytes") {
		t.Errorf("Done with input left = %v", err)
	}
}

var errSentinel = errors.New("the sentinel")

func init() { RegisterError("codegen_test.errSentinel", errSentinel) }

func TestErrorsCrossTheWire(t *testing.T) {
	roundTrip := func(err error) error {
		var e Encoder
		e.Error(err)
		var d Decoder
		d.Reset(e.Data())
		got := d.Error()
		if derr := d.Done(); derr != nil {
			t.Fatal(derr)
		}
		return got
	}
	if roundTrip(nil) != nil {
		t.Error("nil error did not stay nil")
	}
	if got := roundTrip(errSentinel); got != errSentinel {
		t.Errorf("a bare sentinel came back as %#v; want the sentinel itself", got)
	}
	wrapped := fmt.Errorf("step 2: %w", errSentinel)
	got := roundTrip(wrapped)
	if !errors.Is(got, errSentinel) || got.Error() != wrapped.Error() {
		t.Errorf("wrapped sentinel came back as %v", got)
	}
	if got := roundTrip(fmt.Errorf("op: %w", context.DeadlineExceeded)); !errors.Is(got, context.DeadlineExceeded) {
		t.Errorf("deadline error lost its identity: %v", got)
	}
	plain := roundTrip(errors.New("just text"))
	if plain.Error() != "just text" || errors.Is(plain, errSentinel) {
		t.Errorf("plain error came back as %v", plain)
	}
	panicked := roundTrip(PanicError("c.C", "M", "oops"))
	if !errors.Is(panicked, ErrPanic) || !strings.Contains(panicked.Error(), "c.C.M panicked: oops") {
		t.Errorf("panic error came back as %v", panicked)
	}
}

func FuzzDecoder(f *testing.F) {
	var e Encoder
	e.String("seed")
	e.Error(fmt.Errorf("x: %w", errSentinel))
	e.Time(time.Unix(0, 0))
	f.Add(e.Data())
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, b []byte) {
		var d Decoder
		d.Reset(b)
		for d.Err() == nil && len(d.data) > 0 {
			_ = d.String()
			_ = d.Error()
			d.Time()
			d.Bytes()
			d.Bool()
		}
	})
}
