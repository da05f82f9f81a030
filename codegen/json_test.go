package codegen

import (
	"errors"
	"strings"
	"testing"
)

type jsonItem struct {
	ProductID string
	Quantity  int
}

// Arguments decode by name or in order into typed values; what does not
// fit is an error wrapping ErrJSONArguments that says what is wrong.
func TestDecodeJSONArgs(t *testing.T) {
	names := []string{"user", "item"}
	for _, tc := range []struct {
		args    string
		wantErr string // "" for success
	}{
		{`{"user": "alice", "item": {"ProductID": "mug", "Quantity": 2}}`, ""},
		{`["alice", {"ProductID": "mug", "Quantity": 2}]`, ""},
		{`{"user": "alice"}`, `missing parameter "item" (it takes user, item)`},
		{`{"user": "alice", "item": {}, "extra": 1, "another": 2}`, `no parameter "another" (it takes user, item)`},
		{`{"user": "alice", "item": {"Qty": 2}}`, `parameter "item": json: unknown field "Qty"`},
		{`{"user": 1, "item": {}}`, `parameter "user": json: cannot unmarshal number`},
		{`["alice"]`, `1 arguments, want 2 (it takes user, item)`},
		{`["alice", 3]`, `argument 2 (item): json: cannot unmarshal number`},
		{``, `missing parameters "user", "item"`},
		{`null`, `missing parameters "user", "item"`},
		{`"alice"`, `arguments are not a JSON object or array (it takes user, item)`},
		{`{"user":`, `arguments: unexpected end of JSON input`},
	} {
		var user string
		var item jsonItem
		err := DecodeJSONArgs([]byte(tc.args), names, &user, &item)
		if tc.wantErr == "" {
			if err != nil || user != "alice" || item != (jsonItem{"mug", 2}) {
				t.Errorf("DecodeJSONArgs(%s) = %v, user %q, item %+v", tc.args, err, user, item)
			}
			continue
		}
		if err == nil || !errors.Is(err, ErrJSONArguments) || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("DecodeJSONArgs(%s) = %v, want an error wrapping ErrJSONArguments containing %q", tc.args, err, tc.wantErr)
		}
	}
	for _, none := range []string{"", " ", "null", "{}", "[]"} {
		if err := DecodeJSONArgs([]byte(none), nil); err != nil {
			t.Errorf("DecodeJSONArgs(%q) without parameters = %v", none, err)
		}
	}
	if err := DecodeJSONArgs([]byte(`{"x": 1}`), nil); err == nil || !strings.Contains(err.Error(), `no parameter "x" (it takes none)`) {
		t.Errorf("DecodeJSONArgs with an argument for none = %v", err)
	}
}

// Results are null for none, the value for one, an array for several.
func TestEncodeJSONResults(t *testing.T) {
	for _, tc := range []struct {
		results []any
		want    string
	}{
		{nil, "null"},
		{[]any{[]jsonItem{{"mug", 1}}}, `[{"ProductID":"mug","Quantity":1}]`},
		{[]any{[]string(nil)}, "null"},
		{[]any{1, "two", []int{3}}, `[1,"two",[3]]`},
	} {
		got, err := EncodeJSONResults(tc.results...)
		if err != nil || string(got) != tc.want {
			t.Errorf("EncodeJSONResults(%v) = %s, %v; want %s", tc.results, got, err, tc.want)
		}
	}
	if _, err := EncodeJSONResults(complex(1, 2)); err == nil || errors.Is(err, ErrJSONArguments) {
		t.Errorf("EncodeJSONResults(complex) = %v, want an error of its own", err)
	}
}
