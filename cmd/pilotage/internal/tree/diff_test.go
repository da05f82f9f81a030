package tree

import (
	"reflect"
	"testing"
)

func TestDiff(t *testing.T) {
	a, b, c := Node{Name: "a"}, Node{Name: "b", State: "Ready"}, Node{Name: "c"}
	b2 := b
	b2.State = "Restarting"
	evs := Diff([]Node{a, b}, []Node{b2, c})
	want := []Event{{Type: Deleted, Node: a}, {Type: Modified, Node: b2}, {Type: Added, Node: c}}
	if !reflect.DeepEqual(evs, want) {
		t.Errorf("Diff = %+v, want %+v", evs, want)
	}
	if evs := Diff([]Node{a}, []Node{a}); len(evs) != 0 {
		t.Errorf("Diff of equal listings = %+v, want none", evs)
	}
}
