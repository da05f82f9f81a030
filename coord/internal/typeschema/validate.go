package typeschema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// Validate reports whether data is one JSON value that decodes into the
// type s describes; the error says where and why not.
func (s *Schema) Validate(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("not one JSON value: data after it")
	}
	return s.check("value", v)
}

func (s *Schema) check(path string, v any) error {
	if v == nil {
		switch s.Kind {
		case Ptr, Slice, Map, Any:
			return nil
		}
		return fmt.Errorf("%s: null for a %s", path, s.Type)
	}
	switch s.Kind {
	case Any:
		return nil
	case Ptr:
		return s.Elem.check(path, v)
	case Bool:
		if _, ok := v.(bool); !ok {
			return mismatch(path, s, v)
		}
	case String:
		if _, ok := v.(string); !ok {
			return mismatch(path, s, v)
		}
	case Int, Uint, Float:
		n, ok := v.(json.Number)
		if !ok {
			return mismatch(path, s, v)
		}
		return s.checkNumber(path, n)
	case Slice:
		a, ok := v.([]any)
		if !ok {
			return mismatch(path, s, v)
		}
		if s.Len > 0 && len(a) > s.Len {
			return fmt.Errorf("%s: %d elements for a %s", path, len(a), s.Type)
		}
		for i, e := range a {
			if err := s.Elem.check(fmt.Sprintf("%s[%d]", path, i), e); err != nil {
				return err
			}
		}
	case Map:
		m, ok := v.(map[string]any)
		if !ok {
			return mismatch(path, s, v)
		}
		for k, e := range m {
			if err := s.Elem.check(fmt.Sprintf("%s[%q]", path, k), e); err != nil {
				return err
			}
		}
	case Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return mismatch(path, s, v)
		}
		byName := make(map[string]*Schema, len(s.Fields))
		for _, f := range s.Fields {
			byName[f.Name] = f.Schema
		}
		for k, e := range m {
			fs, ok := byName[k]
			if !ok {
				return fmt.Errorf("%s: unknown field %q for a %s", path, k, s.Type)
			}
			if err := fs.check(path+"."+k, e); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("%s: schema of unknown kind %q", path, s.Kind)
	}
	return nil
}

func (s *Schema) checkNumber(path string, n json.Number) error {
	var err error
	switch s.Kind {
	case Int:
		_, err = strconv.ParseInt(n.String(), 10, s.Bits)
	case Uint:
		_, err = strconv.ParseUint(n.String(), 10, s.Bits)
	case Float:
		var f float64
		f, err = strconv.ParseFloat(n.String(), 64)
		if err == nil && s.Bits == 32 && math.Abs(f) > math.MaxFloat32 {
			err = errors.New("out of range")
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %s is not a %s", path, n, s.Type)
	}
	return nil
}

func mismatch(path string, s *Schema, v any) error {
	var got string
	switch v.(type) {
	case bool:
		got = "a boolean"
	case string:
		got = "a string"
	case json.Number:
		got = "a number"
	case []any:
		got = "an array"
	case map[string]any:
		got = "an object"
	default:
		got = fmt.Sprintf("%T", v)
	}
	return fmt.Errorf("%s: %s for a %s", path, got, s.Type)
}
