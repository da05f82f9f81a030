// Package protocodec encodes protocol buffer messages for code written by
// "pilotage generate". It lives apart from codegen so that only applications
// whose component methods carry proto.Message values link the protobuf runtime.
package protocodec

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/pilotage/pilotage/codegen"
)

// Encode writes m, length-prefixed. A nil message is written as nil and
// decodes to an empty message.
func Encode(enc *codegen.Encoder, m proto.Message) {
	if m == nil || !m.ProtoReflect().IsValid() {
		enc.Bytes(nil)
		return
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		enc.Fail(fmt.Errorf("protocodec: encode %T: %w", m, err))
		enc.Bytes(nil)
		return
	}
	if b == nil {
		b = []byte{}
	}
	enc.Bytes(b)
}

// Decode reads a message written by Encode into m, which must be non-nil.
func Decode(dec *codegen.Decoder, m proto.Message) {
	b := dec.Bytes()
	if b == nil || dec.Err() != nil {
		return
	}
	if err := proto.Unmarshal(b, m); err != nil {
		dec.Fail(fmt.Errorf("%w: protocodec: decode %T: %v", codegen.ErrMalformed, m, err))
	}
}
