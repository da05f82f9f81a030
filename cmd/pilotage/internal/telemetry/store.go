package telemetry

import (
	"container/list"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/internal/envelope"
)

// Bounds of a Store besides its number of traces: one trace keeps at most
// maxSpansPerTrace spans (later ones are dropped), and all of them at most
// maxSpans (the least recently updated traces go first).
const (
	maxSpansPerTrace = 10000
	maxSpans         = 200000
)

// A Store keeps the spans of the most recent traces: at most max traces,
// the least recently updated dropped first.
type Store struct {
	mu     sync.Mutex
	max    int
	spans  int                      // kept, in all traces
	traces map[string]*list.Element // of *storedTrace
	order  *list.List               // most recently updated first
}

type storedTrace struct {
	id    string
	spans []api.TraceSpan
}

// NewStore returns a store of at most max traces.
func NewStore(max int) *Store {
	return &Store{max: max, traces: map[string]*list.Element{}, order: list.New()}
}

// Add keeps spans, which came from replica.
func (s *Store) Add(replica string, spans []envelope.Span) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sp := range spans {
		e, ok := s.traces[sp.TraceID]
		if ok {
			s.order.MoveToFront(e)
		} else {
			e = s.order.PushFront(&storedTrace{id: sp.TraceID})
			s.traces[sp.TraceID] = e
		}
		t := e.Value.(*storedTrace)
		if len(t.spans) < maxSpansPerTrace {
			t.spans = append(t.spans, apiSpan(replica, sp))
			s.spans++
		}
		for s.order.Len() > s.max || s.spans > maxSpans {
			s.evictOldest()
		}
	}
}

func (s *Store) evictOldest() {
	old := s.order.Back()
	s.order.Remove(old)
	t := old.Value.(*storedTrace)
	delete(s.traces, t.id)
	s.spans -= len(t.spans)
}

func apiSpan(replica string, sp envelope.Span) api.TraceSpan {
	out := api.TraceSpan{
		SpanID: sp.SpanID, ParentSpanID: sp.ParentSpanID, Name: sp.Name, Kind: sp.Kind, Replica: replica,
		Start: sp.Start, End: sp.End, Status: sp.Status, Message: sp.Message,
	}
	if len(sp.Attrs) > 0 {
		out.Attrs = make(map[string]string, len(sp.Attrs))
		for _, a := range sp.Attrs {
			out.Attrs[a.Key] = a.Value
		}
	}
	return out
}

// List summarizes the traces q selects.
func (s *Store) List(q control.TraceQuery) []api.TraceSummary {
	s.mu.Lock()
	var out []api.TraceSummary
	for e := s.order.Front(); e != nil; e = e.Next() {
		out = append(out, summarize(e.Value.(*storedTrace)))
	}
	s.mu.Unlock()
	return Select(out, q)
}

// Select returns the summaries q selects, in its order.
func Select(ts []api.TraceSummary, q control.TraceQuery) []api.TraceSummary {
	if q.Errors {
		ts = slices.DeleteFunc(ts, func(t api.TraceSummary) bool { return t.Errors == 0 })
	}
	if q.Slowest {
		sort.SliceStable(ts, func(i, j int) bool { return ts[i].Duration > ts[j].Duration })
	} else {
		sort.SliceStable(ts, func(i, j int) bool { return ts[i].Start.After(ts[j].Start) })
	}
	if q.Limit > 0 && len(ts) > q.Limit {
		ts = ts[:q.Limit]
	}
	return ts
}

// summarize describes t: its root is its span without a parent (the
// earliest, if several), else its earliest span.
func summarize(t *storedTrace) api.TraceSummary {
	sum := api.TraceSummary{TraceID: t.id, Spans: len(t.spans)}
	var end, rootStart time.Time
	for _, sp := range t.spans {
		if sum.Start.IsZero() || sp.Start.Before(sum.Start) {
			sum.Start = sp.Start
		}
		if sp.ParentSpanID == "" && (rootStart.IsZero() || sp.Start.Before(rootStart)) {
			sum.Root, rootStart = sp.Name, sp.Start
		}
		if sp.End.After(end) {
			end = sp.End
		}
		if sp.Status == "error" {
			sum.Errors++
		}
		if !slices.Contains(sum.Processes, sp.Replica) {
			sum.Processes = append(sum.Processes, sp.Replica)
		}
	}
	if sum.Root == "" {
		for _, sp := range t.spans {
			if sp.Start.Equal(sum.Start) {
				sum.Root = sp.Name
				break
			}
		}
	}
	sum.Duration = end.Sub(sum.Start)
	slices.Sort(sum.Processes)
	return sum
}

// Get returns the spans kept of the trace with id (a prefix of at least 8
// hex digits will do, if it names one trace), in start order.
func (s *Store) Get(id string) (api.Trace, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.traces[id]
	if !ok && len(id) >= 8 {
		for tid, te := range s.traces {
			if strings.HasPrefix(tid, id) {
				if e != nil {
					return api.Trace{}, false // ambiguous
				}
				e = te
			}
		}
		ok = e != nil
	}
	if !ok {
		return api.Trace{}, false
	}
	t := e.Value.(*storedTrace)
	spans := slices.Clone(t.spans)
	sort.SliceStable(spans, func(i, j int) bool { return spans[i].Start.Before(spans[j].Start) })
	return api.Trace{TraceID: t.id, Spans: spans}, true
}
