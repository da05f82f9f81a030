package codec

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/pilotage/pilotage/bench/codec/pb"
	"github.com/pilotage/pilotage/codegen"
	"google.golang.org/protobuf/proto"
)

// The three shapes, as Go values and as the equivalent protobuf messages.
var (
	small            = Small{ID: 42, Name: "gopher mug", Price: 12.5, InStock: true, Count: 7}
	smallPB          = &pb.Small{Id: 42, Name: "gopher mug", Price: 12.5, InStock: true, Count: 7}
	blob             = Blob{Data: bytes.Repeat([]byte("0123456789abcdef"), 64)}
	blobPB           = &pb.Blob{Data: blob.Data}
	nested, nestedPB = makeNested()
)

func makeNested() (Nested, *pb.Nested) {
	n := Nested{Name: "order", Index: map[string]int64{}}
	p := &pb.Nested{Name: "order", Index: map[string]int64{}}
	for i := range 100 {
		s := Small{ID: int64(i), Name: fmt.Sprintf("item-%d", i), Price: float64(i) / 4, InStock: i%2 == 0, Count: int32(i)}
		n.Items = append(n.Items, s)
		p.Items = append(p.Items, &pb.Small{Id: s.ID, Name: s.Name, Price: s.Price, InStock: s.InStock, Count: s.Count})
	}
	for i := range 10 {
		k := fmt.Sprintf("key-%d", i)
		n.Index[k], p.Index[k] = int64(i), int64(i)
	}
	return n, p
}

// The pilotage round trips encode into a pooled buffer, as a client stub
// does, and decode into a fresh value, as a server stub does. They are
// written out per shape because calling generated functions through func
// values would make the decoder escape, which generated stubs never do.

func pilotageSmall() (Small, error) {
	e := codegen.GetEncoder()
	defer codegen.PutEncoder(e)
	pilotage_enc_Small(e, &small)
	var d codegen.Decoder
	d.Reset(e.Data())
	var out Small
	pilotage_dec_Small(&d, &out)
	return out, d.Done()
}

func pilotageBlob() (Blob, error) {
	e := codegen.GetEncoder()
	defer codegen.PutEncoder(e)
	pilotage_enc_Blob(e, &blob)
	var d codegen.Decoder
	d.Reset(e.Data())
	var out Blob
	pilotage_dec_Blob(&d, &out)
	return out, d.Done()
}

func pilotageNested() (Nested, error) {
	e := codegen.GetEncoder()
	defer codegen.PutEncoder(e)
	pilotage_enc_Nested(e, &nested)
	var d codegen.Decoder
	d.Reset(e.Data())
	var out Nested
	pilotage_dec_Nested(&d, &out)
	return out, d.Done()
}

func protoRoundTrip[M proto.Message](m M, fresh M) (M, error) {
	b, err := proto.Marshal(m)
	if err != nil {
		return fresh, err
	}
	return fresh, proto.Unmarshal(b, fresh)
}

func jsonRoundTrip[T any](v *T) (T, error) {
	var out T
	b, err := json.Marshal(v)
	if err != nil {
		return out, err
	}
	return out, json.Unmarshal(b, &out)
}

// gobRoundTrip uses a fresh Encoder and Decoder per value, as a
// request/response protocol must when messages are not one stream.
func gobRoundTrip[T any](v *T) (T, error) {
	var out T
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(v); err != nil {
		return out, err
	}
	return out, gob.NewDecoder(&buf).Decode(&out)
}

func TestRoundTrips(t *testing.T) {
	check := func(name string, got, want any, err error) {
		t.Helper()
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: round trip = %+v, %v", name, got, err)
		}
	}
	s, err := pilotageSmall()
	check("pilotage small", s, small, err)
	b, err := pilotageBlob()
	check("pilotage blob", b, blob, err)
	n, err := pilotageNested()
	check("pilotage nested", n, nested, err)
	sp, err := protoRoundTrip(smallPB, &pb.Small{})
	if err != nil || !proto.Equal(sp, smallPB) {
		t.Errorf("proto small: %v %v", sp, err)
	}
	np, err := protoRoundTrip(nestedPB, &pb.Nested{})
	if err != nil || !proto.Equal(np, nestedPB) {
		t.Errorf("proto nested: %v", err)
	}
	sj, err := jsonRoundTrip(&small)
	check("json small", sj, small, err)
	sg, err := gobRoundTrip(&small)
	check("gob small", sg, small, err)
}

// BenchmarkCodec measures one encode plus one decode per operation.
func BenchmarkCodec(b *testing.B) {
	type impl struct {
		name string
		run  func() error
	}
	// Results go to package variables so the compiler keeps the work.
	var (
		s   Small
		bl  Blob
		n   Nested
		err error
	)
	defer func() { sinkSmall, sinkBlob, sinkNested = s, bl, n }()
	discard := func(_ any, err error) error { return err }
	for _, shape := range []struct {
		name  string
		impls []impl
	}{
		{"small", []impl{
			{"pilotage", func() error { s, err = pilotageSmall(); return err }},
			{"protobuf", func() error { return discard(protoRoundTrip(smallPB, &pb.Small{})) }},
			{"gob", func() error { return discard(gobRoundTrip(&small)) }},
			{"json", func() error { return discard(jsonRoundTrip(&small)) }},
		}},
		{"blob1KiB", []impl{
			{"pilotage", func() error { bl, err = pilotageBlob(); return err }},
			{"protobuf", func() error { return discard(protoRoundTrip(blobPB, &pb.Blob{})) }},
			{"gob", func() error { return discard(gobRoundTrip(&blob)) }},
			{"json", func() error { return discard(jsonRoundTrip(&blob)) }},
		}},
		{"nested100", []impl{
			{"pilotage", func() error { n, err = pilotageNested(); return err }},
			{"protobuf", func() error { return discard(protoRoundTrip(nestedPB, &pb.Nested{})) }},
			{"gob", func() error { return discard(gobRoundTrip(&nested)) }},
			{"json", func() error { return discard(jsonRoundTrip(&nested)) }},
		}},
	} {
		for _, im := range shape.impls {
			b.Run(shape.name+"/"+im.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := im.run(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

var (
	sinkSmall  Small
	sinkBlob   Blob
	sinkNested Nested
)
