package codegen

import (
	"bytes"
	"testing"
	"unsafe"
)

// Decoder.ResetOwned returns large values as parts of the buffer, with
// their capacity cut, and copies small ones, ones that are a small part of
// the buffer, and everything after Reset.
func TestDecoderOwnedAliasing(t *testing.T) {
	big := bytes.Repeat([]byte{1}, MinAliased)
	small := bytes.Repeat([]byte{2}, MinAliased-1)
	var e Encoder
	e.Bytes(big)
	e.String(string(big))
	e.Bytes(small)
	buf := e.Data()
	inBuf := func(p *byte) bool {
		a := uintptr(unsafe.Pointer(p))
		return a >= uintptr(unsafe.Pointer(&buf[0])) && a < uintptr(unsafe.Pointer(&buf[0]))+uintptr(len(buf))
	}

	var d Decoder
	d.ResetOwned(buf)
	b, s, sm := d.Bytes(), d.String(), d.Bytes()
	if err := d.Done(); err != nil {
		t.Fatal(err)
	}
	if !inBuf(&b[0]) || !inBuf(unsafe.StringData(s)) {
		t.Errorf("values of MinAliased bytes were copied out of an owned buffer")
	}
	if inBuf(&sm[0]) {
		t.Errorf("a value under MinAliased aliases the buffer")
	}
	if cap(b) != len(b) {
		t.Errorf("an aliased slice has capacity %d beyond its length %d: appending would overwrite the buffer", cap(b), len(b))
	}
	b = append(b, 9)
	if s != string(big) {
		t.Errorf("appending to an aliased slice changed the string after it")
	}

	d.Reset(buf)
	if b := d.Bytes(); inBuf(&b[0]) {
		t.Errorf("Reset: a value aliases a buffer that may be reused")
	}

	// A value under a quarter of its buffer is copied, however large.
	e.Reset()
	e.Bytes(big)
	e.Bytes(bytes.Repeat([]byte{3}, 3*MinAliased+100))
	buf = e.Data()
	d.ResetOwned(buf)
	if b := d.Bytes(); inBuf(&b[0]) {
		t.Errorf("a value under a quarter of its buffer aliases it")
	}
}

// An Encoder that refers to large values (ReferLarge) gives them back from
// their own memory, in order among the bytes around them; Data copies them
// in; Reset forgets them.
func TestEncoderReferLarge(t *testing.T) {
	big := bytes.Repeat([]byte{7}, MinReferenced)
	bigStr := string(bytes.Repeat([]byte{8}, MinReferenced))
	var want Encoder
	want.Int(1)
	want.Bytes(big)
	want.Bytes([]byte("small"))
	want.String(bigStr)
	want.Int(2)

	var e Encoder
	e.ReferLarge()
	e.Int(1)
	e.Bytes(big)
	e.Bytes([]byte("small"))
	e.String(bigStr)
	e.Int(2)
	if e.Size() != len(want.Data()) {
		t.Fatalf("Size %d, want %d", e.Size(), len(want.Data()))
	}
	var segs [][]byte
	e.Segments(func(b []byte) { segs = append(segs, b) })
	if got := bytes.Join(segs, nil); !bytes.Equal(got, want.Data()) {
		t.Fatalf("segments join to %d bytes unlike a copying encoder's %d", len(got), len(want.Data()))
	}
	referred := 0
	for _, s := range segs {
		if &s[0] == &big[0] || &s[0] == unsafe.StringData(bigStr) {
			referred++
		}
	}
	if referred != 2 {
		t.Errorf("%d large values were referred to, want 2", referred)
	}
	if !bytes.Equal(e.Data(), want.Data()) || e.Size() != len(want.Data()) {
		t.Errorf("Data differs from a copying encoder's")
	}
	e.Reset()
	e.Bytes(big)
	if len(e.Data()) != 4+len(big) || &e.Data()[4] == &big[0] {
		t.Errorf("after Reset the encoder still refers to large values")
	}
}
