package telemetry

import (
	"fmt"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/internal/envelope"
)

func span(trace, id, parent, name string, start time.Time, d time.Duration, status string) envelope.Span {
	return envelope.Span{TraceID: trace, SpanID: id, ParentSpanID: parent, Name: name, Kind: "server", Start: start, End: start.Add(d), Status: status}
}

// The store keeps the most recently updated traces, at most its bound,
// and lists them by recency, by duration or with errors only.
func TestStoreBoundsAndQueries(t *testing.T) {
	s := NewStore(3)
	t0 := time.Now()
	for i := range 5 {
		id := fmt.Sprintf("%02x%030x", i+1, 0)
		// Children before their root, as processes send them: the root
		// ends last.
		s.Add("cart.Cart/0", []envelope.Span{span(id, "00000000000000c1", "00000000000000a1", "child", t0.Add(time.Duration(i)*time.Second+time.Millisecond), time.Millisecond, map[bool]string{true: "error"}[i == 2])})
		s.Add("main/0", []envelope.Span{span(id, "00000000000000a1", "", fmt.Sprintf("GET /%d", i), t0.Add(time.Duration(i)*time.Second), time.Duration(10-i)*time.Millisecond, "")})
	}
	all := s.List(control.TraceQuery{})
	if len(all) != 3 || all[0].Root != "GET /4" || all[2].Root != "GET /2" {
		t.Fatalf("recent traces: %+v", all)
	}
	if all[0].Spans != 2 || len(all[0].Processes) != 2 || all[0].Duration != 6*time.Millisecond {
		t.Errorf("summary: %+v", all[0])
	}
	if slow := s.List(control.TraceQuery{Slowest: true, Limit: 1}); len(slow) != 1 || slow[0].Root != "GET /2" {
		t.Errorf("slowest: %+v", slow)
	}
	if errs := s.List(control.TraceQuery{Errors: true}); len(errs) != 1 || errs[0].Root != "GET /2" || errs[0].Errors != 1 {
		t.Errorf("errors: %+v", errs)
	}
	if _, ok := s.Get(fmt.Sprintf("%02x%030x", 1, 0)); ok {
		t.Error("the oldest trace is still kept past the bound")
	}
	tr, ok := s.Get(fmt.Sprintf("%02x%030x", 5, 0)[:10])
	if !ok || len(tr.Spans) != 2 || tr.Spans[0].Name != "GET /4" || tr.Spans[1].Replica != "cart.Cart/0" {
		t.Errorf("get by prefix: %+v, %v", tr, ok)
	}
	s.Add("a/0", []envelope.Span{span(fmt.Sprintf("%02x%030x", 5, 1), "00000000000000b1", "", "other", t0, 0, "")})
	if _, ok := s.Get(fmt.Sprintf("%02x%030x", 5, 0)[:10]); ok {
		t.Error("an ambiguous prefix named a trace")
	}
}

// The store bounds the spans of one trace.
func TestStoreBoundsSpans(t *testing.T) {
	s := NewStore(10)
	id := fmt.Sprintf("%032x", 7)
	batch := make([]envelope.Span, maxSpansPerTrace+10)
	for i := range batch {
		batch[i] = span(id, fmt.Sprintf("%016x", i+1), "", "x", time.Now(), 0, "")
	}
	s.Add("a/0", batch)
	if tr, _ := s.Get(id); len(tr.Spans) != maxSpansPerTrace || s.spans != maxSpansPerTrace {
		t.Errorf("kept %d spans (%d counted), want %d", len(tr.Spans), s.spans, maxSpansPerTrace)
	}
}
