// Package typeschema describes a Go type as JSON, derived by reflection,
// and checks that a JSON value decodes into the type it describes. The
// coord package stores the description of the type a config key was
// registered with, so that a writer without that type (an operator tool,
// another replica) can refuse a value that would not decode.
//
// It covers the types config values are made of: bool, integers (with
// their size and sign), floats, string, slices and arrays, maps with
// string keys, structs (by their JSON field names; unknown fields are
// rejected), pointers (which also take null), and types that decode
// themselves (json.Unmarshaler: any JSON; encoding.TextUnmarshaler: a
// string).
package typeschema

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// Kinds of Schema.
const (
	Bool   = "bool"
	Int    = "int"   // Bits: 8, 16, 32 or 64
	Uint   = "uint"  // Bits: 8, 16, 32 or 64
	Float  = "float" // Bits: 32 or 64
	String = "string"
	Slice  = "slice" // Elem; also arrays, of Len elements
	Map    = "map"   // Elem, with string keys
	Struct = "struct"
	Ptr    = "ptr" // Elem, or null
	Any    = "any" // any JSON value (interface{}, json.Unmarshaler)
)

// A Schema describes a type: how its JSON must look.
type Schema struct {
	Kind   string   `json:"kind"`
	Type   string   `json:"type,omitempty"` // the Go type, for people
	Bits   int      `json:"bits,omitempty"`
	Len    int      `json:"len,omitempty"` // arrays
	Elem   *Schema  `json:"elem,omitempty"`
	Fields []*Field `json:"fields,omitempty"`
}

// A Field is a field of a struct.
type Field struct {
	Name   string  `json:"name"` // its JSON name
	Schema *Schema `json:"schema"`
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// Of returns the schema of t, or an error if a part of t cannot be
// decoded from JSON (a channel, a function, a map with keys that are not
// strings) or t is recursive.
func Of(t reflect.Type) (*Schema, error) {
	return of(t, map[reflect.Type]bool{})
}

func of(t reflect.Type, visiting map[reflect.Type]bool) (*Schema, error) {
	s := &Schema{Type: t.String()}
	pt := reflect.PointerTo(t)
	switch {
	case t.Implements(jsonUnmarshaler) || pt.Implements(jsonUnmarshaler):
		s.Kind = Any
		return s, nil
	case t.Implements(textUnmarshaler) || pt.Implements(textUnmarshaler):
		s.Kind = String
		return s, nil
	}
	if visiting[t] {
		return nil, fmt.Errorf("type %s is recursive", t)
	}
	visiting[t] = true
	defer delete(visiting, t)
	var err error
	switch t.Kind() {
	case reflect.Bool:
		s.Kind = Bool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		s.Kind, s.Bits = Int, t.Bits()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		s.Kind, s.Bits = Uint, t.Bits()
	case reflect.Float32, reflect.Float64:
		s.Kind, s.Bits = Float, t.Bits()
	case reflect.String:
		s.Kind = String
	case reflect.Interface:
		if t.NumMethod() > 0 {
			return nil, fmt.Errorf("interface type %s cannot be decoded from JSON", t)
		}
		s.Kind = Any
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			s.Kind = String // []byte: base64
			break
		}
		s.Kind = Slice
		s.Elem, err = of(t.Elem(), visiting)
	case reflect.Array:
		s.Kind, s.Len = Slice, t.Len()
		s.Elem, err = of(t.Elem(), visiting)
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("map type %s: keys must be strings", t)
		}
		s.Kind = Map
		s.Elem, err = of(t.Elem(), visiting)
	case reflect.Pointer:
		s.Kind = Ptr
		s.Elem, err = of(t.Elem(), visiting)
	case reflect.Struct:
		s.Kind = Struct
		err = fields(s, t, visiting)
	default:
		return nil, fmt.Errorf("type %s cannot be decoded from JSON", t)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// fields adds the JSON fields of struct t to s, those of embedded structs
// included, as encoding/json sees them (a simplified account: a name
// defined twice is an error rather than resolved by depth).
func fields(s *Schema, t reflect.Type, visiting map[reflect.Type]bool) error {
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			et := ft
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				if err := fields(s, et, visiting); err != nil {
					return err
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fs, err := of(ft, visiting)
		if err != nil {
			return fmt.Errorf("field %s: %w", f.Name, err)
		}
		for _, other := range s.Fields {
			if other.Name == name {
				return fmt.Errorf("struct %s: field name %q is defined twice", t, name)
			}
		}
		s.Fields = append(s.Fields, &Field{Name: name, Schema: fs})
	}
	return nil
}

// Parse decodes a schema written by encoding/json.
func Parse(data []byte) (*Schema, error) {
	var s Schema
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	return &s, nil
}
