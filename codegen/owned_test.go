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
