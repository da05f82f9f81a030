package typeschema

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

type inner struct {
	On bool `json:"on"`
}

type Embedded struct {
	Shared string `json:"shared"`
}

type config struct {
	Embedded
	Rate     int                `json:"rate"`
	Small    int8               `json:"small"`
	Count    uint16             `json:"count"`
	Ratio    float32            `json:"ratio"`
	Name     string             `json:"name,omitempty"`
	Tags     []string           `json:"tags"`
	Pair     [2]int             `json:"pair"`
	Weights  map[string]float64 `json:"weights"`
	Inner    *inner             `json:"inner"`
	Any      any                `json:"any"`
	When     time.Time          `json:"when"`
	Raw      json.RawMessage    `json:"raw"`
	Data     []byte             `json:"data"`
	Untagged bool
	Skipped  chan int `json:"-"`
	private  int
}

func TestValidate(t *testing.T) {
	s, err := Of(reflect.TypeFor[config]())
	if err != nil {
		t.Fatal(err)
	}
	// The schema survives its JSON form.
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if s, err = Parse(data); err != nil {
		t.Fatal(err)
	}
	for _, good := range []string{
		`{}`,
		`{"rate":-5,"small":127,"count":65535,"ratio":1.5e3,"name":"x","shared":"s"}`,
		`{"tags":["a"],"pair":[1,2],"weights":{"a":1,"b":2.5},"inner":{"on":true}}`,
		`{"inner":null,"tags":null,"any":{"x":[1,"y"]},"raw":[1],"when":"2026-01-02T03:04:05Z","data":"aGk="}`,
		`{"Untagged":true}`,
	} {
		if err := s.Validate([]byte(good)); err != nil {
			t.Errorf("Validate(%s): %v", good, err)
		}
		var c config
		if err := json.Unmarshal([]byte(good), &c); err != nil {
			t.Errorf("a valid value does not decode: %s: %v", good, err)
		}
	}
	for _, bad := range []string{
		`{"rate":"1"}`,
		`{"rate":1.5}`,
		`{"small":128}`,
		`{"count":-1}`,
		`{"ratio":1e40}`,
		`{"name":1}`,
		`{"tags":[1]}`,
		`{"pair":[1,2,3]}`,
		`{"weights":{"a":"b"}}`,
		`{"inner":{"on":"yes"}}`,
		`{"inner":{"off":true}}`,
		`{"unknown":1}`,
		`{"Skipped":1}`,
		`{"private":1}`,
		`{"rate":null}`,
		`[]`,
		`"x"`,
		``,
		`{} {}`,
	} {
		if err := s.Validate([]byte(bad)); err == nil {
			t.Errorf("Validate(%s): no error", bad)
		}
	}
}

type node struct {
	Children []node `json:"children"`
}

func TestUnsupported(t *testing.T) {
	for _, typ := range []reflect.Type{
		reflect.TypeFor[chan int](),
		reflect.TypeFor[func()](),
		reflect.TypeFor[map[int]string](),
		reflect.TypeFor[complex128](),
		reflect.TypeFor[node](),
		reflect.TypeFor[struct{ F func() }](),
	} {
		if _, err := Of(typ); err == nil {
			t.Errorf("Of(%v): no error", typ)
		}
	}
	if s, err := Of(reflect.TypeFor[int]()); err != nil || s.Validate([]byte("1")) != nil || !strings.Contains(s.Validate([]byte("true")).Error(), "boolean") {
		t.Errorf("Of(int) = %+v, %v", s, err)
	}
}
