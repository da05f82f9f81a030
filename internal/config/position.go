package config

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"

	"github.com/BurntSushi/toml"
)

// Where returns the place of key (its parts: "units", "redis", "ready") in
// the file, to start a message with: "file:line:col" for a value (the
// column of the value), "file:line" for a table, the file alone when the
// decoder does not know. A key it cannot place (inside an array of tables)
// gets the place of the closest enclosing key it can.
func (f *File) Where(key ...string) string {
	return f.at(position(f.text, key))
}

// at formats a place in the file; 0 means unknown.
func (f *File) at(line, col int) string {
	name := f.Path
	if name == "" {
		name = "(inline)"
	}
	switch {
	case line > 0 && col > 0:
		return fmt.Sprintf("%s:%d:%d", name, line, col)
	case line > 0:
		return fmt.Sprintf("%s:%d", name, line)
	}
	return name
}

// position finds where the decoder saw key in text. toml v1.6.0 exposes
// the positions of keys only through the ParseError of a value that fails
// to decode, so position decodes the document again, level by level into
// Primitives, and the value of key into a locator, which always fails.
// The column of a table header is not reliable, so tables get none.
func position(text string, key []string) (line, col int) {
	if text == "" {
		return 0, 0
	}
	var level map[string]toml.Primitive
	md, err := toml.Decode(text, &level)
	if err != nil {
		return 0, 0
	}
	for i, part := range key {
		prim, ok := level[part]
		if !ok {
			break
		}
		var pe toml.ParseError
		if errors.As(md.PrimitiveDecode(prim, &locator{}), &pe) && pe.Position.Line > 0 {
			line, col = pe.Position.Line, pe.Position.Col
			if t := md.Type(key[:i+1]...); t == "Hash" || t == "ArrayHash" {
				col = 0
			}
		}
		level = nil
		if md.PrimitiveDecode(prim, &level) != nil {
			break // a value, or an array of tables
		}
	}
	return line, col
}

// locator fails to decode any value, so that the decoder says where it is.
type locator struct{}

var errLocate = errors.New("locate")

func (*locator) UnmarshalTOML(any) error { return errLocate }

// lastKeyError matches the errors toml v1.6.0 returns as plain text for a
// value of the wrong type: `toml: line 3 (last key "run.replicas"): ...`.
var lastKeyError = regexp.MustCompile(`(?s)^toml: (?:line (\d+) )?\(last key ("(?:[^"\\]|\\.)*")\): (.*)$`)

// decodeError places an error of the decoder in the file: a syntax error
// or a value it could not decode (a toml.ParseError, which has a position),
// or a value of the wrong type (whose message names the line and the key).
func (f *File) decodeError(md toml.MetaData, err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %s", f.at(pe.Position.Line, pe.Position.Col), pe.Message)
	}
	m := lastKeyError.FindStringSubmatch(err.Error())
	if m == nil {
		return fmt.Errorf("%s: %w", f.at(0, 0), err)
	}
	name, uerr := strconv.Unquote(m[2])
	if uerr != nil {
		name = m[2]
	}
	if i := slices.IndexFunc(md.Keys(), func(k toml.Key) bool { return k.String() == name }); i >= 0 {
		return fmt.Errorf("%s: %s: %s", f.Where(md.Keys()[i]...), name, m[3])
	}
	line, _ := strconv.Atoi(m[1])
	return fmt.Errorf("%s: %s: %s", f.at(line, 0), name, m[3])
}

// unknownKeys reports the keys selected by in that decoding did not
// consume. An unknown table is reported once, not with every key in it.
func (f *File) unknownKeys(in func(toml.Key) bool) []error {
	var errs []error
	var reported []toml.Key
	for _, k := range f.meta.Undecoded() {
		if len(k) == 0 || !in(k) || slices.ContainsFunc(reported, func(r toml.Key) bool { return isUnder(k, r) }) {
			continue
		}
		reported = append(reported, k)
		errs = append(errs, fmt.Errorf("%s: unknown key %q", f.Where(k...), k.String()))
	}
	return errs
}

// isUnder reports whether key k is parent or inside it.
func isUnder(k, parent toml.Key) bool {
	return len(k) >= len(parent) && slices.Equal(k[:len(parent)], parent)
}
