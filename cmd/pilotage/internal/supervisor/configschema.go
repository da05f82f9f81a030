package supervisor

import (
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/pilotage/pilotage/internal/graph"
)

// newConfigValue returns a pointer to a fresh value of a Go type of the
// shape t, which the TOML decoder treats as it treats the component's own
// config type: decoding a section into it strictly finds the same unknown
// keys and values of the wrong kind, with the same messages.
func newConfigValue(t *graph.Type) any { return reflect.New(goType(t)).Interface() }

// goType returns a Go type of the shape t.
func goType(t *graph.Type) reflect.Type {
	switch t.Kind {
	case graph.Table:
		fields := make([]reflect.StructField, len(t.Fields))
		used := map[string]bool{}
		for i, f := range t.Fields {
			fields[i] = reflect.StructField{
				Name: fieldName(f.Key, used),
				Type: goType(f.Type),
				Tag:  reflect.StructTag(`toml:` + strconv.Quote(f.Key)),
			}
		}
		return reflect.StructOf(fields)
	case graph.Array:
		return reflect.SliceOf(goType(elemOf(t)))
	case graph.Map:
		return reflect.MapOf(reflect.TypeFor[string](), goType(elemOf(t)))
	}
	if rt, ok := kindTypes[t.Kind]; ok {
		return rt
	}
	return reflect.TypeFor[customValue]() // a kind from a newer generator: let the proclet decide
}

// fieldName returns an exported Go field name for key, unused so far: the
// key with its first letter upper-cased, as the field most likely reads, so
// that the decoder's messages, which show the type, read naturally.
func fieldName(key string, used map[string]bool) string {
	var b strings.Builder
	for _, r := range key {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteRune('_')
		}
	}
	name := b.String()
	r, size := utf8.DecodeRuneInString(name)
	if up := unicode.ToUpper(r); unicode.IsUpper(up) {
		name = string(up) + name[size:]
	} else {
		name = "F_" + name
	}
	base := name
	for n := 2; used[name]; n++ {
		name = base + strconv.Itoa(n)
	}
	used[name] = true
	return name
}

func elemOf(t *graph.Type) *graph.Type {
	if t.Elem == nil {
		return &graph.Type{Kind: graph.Custom}
	}
	return t.Elem
}

var kindTypes = map[graph.Kind]reflect.Type{
	graph.Bool: reflect.TypeFor[bool](), graph.String: reflect.TypeFor[string](),
	graph.Int: reflect.TypeFor[int](), graph.Int8: reflect.TypeFor[int8](), graph.Int16: reflect.TypeFor[int16](),
	graph.Int32: reflect.TypeFor[int32](), graph.Int64: reflect.TypeFor[int64](),
	graph.Uint: reflect.TypeFor[uint](), graph.Uint8: reflect.TypeFor[uint8](), graph.Uint16: reflect.TypeFor[uint16](),
	graph.Uint32: reflect.TypeFor[uint32](), graph.Uint64: reflect.TypeFor[uint64](),
	graph.Float32: reflect.TypeFor[float32](), graph.Float64: reflect.TypeFor[float64](),
	graph.Duration: reflect.TypeFor[time.Duration](), graph.Datetime: reflect.TypeFor[time.Time](),
	graph.Text: reflect.TypeFor[textValue](), graph.Any: reflect.TypeFor[any](), graph.Custom: reflect.TypeFor[customValue](),
}

// textValue stands for an encoding.TextUnmarshaler: the decoder gives it
// any string, number or boolean; what the text may say is the type's own
// business, checked by the proclet.
type textValue struct{}

func (*textValue) UnmarshalText([]byte) error { return nil }

// customValue stands for a toml.Unmarshaler: it takes anything.
type customValue struct{}

func (*customValue) UnmarshalTOML(any) error { return nil }
