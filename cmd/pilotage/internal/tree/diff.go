package tree

import "reflect"

// Diff returns the events that make the listing prev the listing now
// (both as List returns them): deletions first, in prev's order, then
// additions and changes in now's. An FS that watches by listing again
// reports what changed with it.
func Diff(prev, now []Node) []Event {
	was := make(map[string]Node, len(prev))
	for _, n := range prev {
		was[n.Name] = n
	}
	is := make(map[string]bool, len(now))
	for _, n := range now {
		is[n.Name] = true
	}
	var out []Event
	for _, n := range prev {
		if !is[n.Name] {
			out = append(out, Event{Type: Deleted, Node: n})
		}
	}
	for _, n := range now {
		old, ok := was[n.Name]
		switch {
		case !ok:
			out = append(out, Event{Type: Added, Node: n})
		case !reflect.DeepEqual(old, n):
			out = append(out, Event{Type: Modified, Node: n})
		}
	}
	return out
}
