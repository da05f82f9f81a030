package codegen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// A JSONHandler serves one method from JSON, for operators' tools
// ("pilotage call"), never for calls between components. It decodes args,
// a JSON object of the method's parameters by name or a JSON array of them
// in order (empty or null for none), calls the implementation and returns
// its results before the error as JSON (null for none, the value for one,
// an array for several) with the error the method returned as appErr; a
// panic is an appErr wrapping ErrPanic, with nil results. A non-nil err
// means the call itself failed: arguments that do not decode (an error
// wrapping ErrJSONArguments) or results that do not encode.
type JSONHandler func(ctx context.Context, args []byte) (results []byte, appErr error, err error)

// ErrJSONArguments is wrapped by the error of a JSONHandler whose arguments
// do not decode: not JSON, an unknown or missing parameter, a value of the
// wrong type. It keeps working with errors.Is across processes.
var ErrJSONArguments = errors.New("bad JSON arguments")

func init() {
	RegisterError("pilotage.ErrJSONArguments", ErrJSONArguments)
}

// argsError is a failure to decode the arguments of a JSON call. Its
// message is only what is wrong, to be shown as it is.
type argsError struct{ msg string }

func (e *argsError) Error() string        { return e.msg }
func (e *argsError) Is(target error) bool { return target == ErrJSONArguments }

func argsErrorf(format string, args ...any) error {
	return &argsError{msg: fmt.Sprintf(format, args...)}
}

// DecodeJSONArgs decodes the arguments of a JSON call (see JSONHandler)
// into ptrs, pointers to the parameters in order, named by names. Every
// parameter must be given, and no other; a value is decoded with
// encoding/json, refusing fields its type does not have. Called by
// generated code.
func DecodeJSONArgs(args []byte, names []string, ptrs ...any) error {
	if len(names) != len(ptrs) {
		return fmt.Errorf("codegen: %d parameter names for %d parameters (a bug in pilotage generate)", len(names), len(ptrs))
	}
	args = bytes.TrimSpace(args)
	if len(args) == 0 || string(args) == "null" {
		if len(names) > 0 {
			return argsErrorf("missing %s", paramList(names))
		}
		return nil
	}
	switch args[0] {
	case '{':
		var byName map[string]json.RawMessage
		if err := json.Unmarshal(args, &byName); err != nil {
			return argsErrorf("arguments: %v", err)
		}
		var unknown []string
		for k := range byName {
			if !slices.Contains(names, k) {
				unknown = append(unknown, k)
			}
		}
		if len(unknown) > 0 {
			slices.Sort(unknown)
			return argsErrorf("no parameter %q (%s)", unknown[0], want(names))
		}
		for i, n := range names {
			v, ok := byName[n]
			if !ok {
				return argsErrorf("missing parameter %q (%s)", n, want(names))
			}
			if err := decodeJSONValue(v, ptrs[i]); err != nil {
				return argsErrorf("parameter %q: %v", n, err)
			}
		}
		return nil
	case '[':
		var inOrder []json.RawMessage
		if err := json.Unmarshal(args, &inOrder); err != nil {
			return argsErrorf("arguments: %v", err)
		}
		if len(inOrder) != len(names) {
			return argsErrorf("%d arguments, want %d (%s)", len(inOrder), len(names), want(names))
		}
		for i, v := range inOrder {
			if err := decodeJSONValue(v, ptrs[i]); err != nil {
				return argsErrorf("argument %d (%s): %v", i+1, names[i], err)
			}
		}
		return nil
	}
	return argsErrorf("arguments are not a JSON object or array (%s)", want(names))
}

// decodeJSONValue decodes one JSON value into ptr, refusing unknown
// struct fields: a misspelt field is a mistake, not a zero value.
func decodeJSONValue(v json.RawMessage, ptr any) error {
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.DisallowUnknownFields()
	return dec.Decode(ptr)
}

// paramList returns `parameter "a"` or `parameters "a", "b"`.
func paramList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	if len(q) == 1 {
		return "parameter " + q[0]
	}
	return "parameters " + strings.Join(q, ", ")
}

// want says what a method takes.
func want(names []string) string {
	if len(names) == 0 {
		return "it takes none"
	}
	return "it takes " + strings.Join(names, ", ")
}

// EncodeJSONResults encodes the results of a method before its error as
// JSON: null for none, the value for one, an array for several. Called by
// generated code.
func EncodeJSONResults(results ...any) ([]byte, error) {
	var v any
	switch len(results) {
	case 0:
		return []byte("null"), nil
	case 1:
		v = results[0]
	default:
		v = results
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("the results do not encode as JSON: %w", err)
	}
	return b, nil
}
