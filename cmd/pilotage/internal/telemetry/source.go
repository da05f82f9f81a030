package telemetry

import (
	"net/http"
	"slices"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
)

// Source returns what h keeps, as the control API serves it
// (control.HandleTelemetry).
func (h *Hub) Source() control.TelemetrySource { return source{h} }

type source struct{ h *Hub }

func (s source) Traces(q control.TraceQuery) []api.TraceSummary { return s.h.Store.List(q) }
func (s source) Trace(id string) (api.Trace, bool)              { return s.h.Store.Get(id) }
func (s source) Metrics() api.Metrics                           { return s.h.Metrics.Snapshot() }
func (s source) Prometheus() http.Handler                       { return s.h.Metrics.Handler() }

// MergeTraces summarizes traces whose spans several stores kept (the pods
// of an app on Kubernetes, each with the spans of its own replica), from
// each store's summaries of all it keeps, and returns those q selects. A
// merged trace's root is the root of its earliest part: its spans without
// a parent began it.
func MergeTraces(parts [][]api.TraceSummary, q control.TraceQuery) []api.TraceSummary {
	byID := map[string]*api.TraceSummary{}
	var order []string
	for _, ts := range parts {
		for _, t := range ts {
			m := byID[t.TraceID]
			if m == nil {
				c := t
				c.Processes = slices.Clone(t.Processes)
				byID[t.TraceID] = &c
				order = append(order, t.TraceID)
				continue
			}
			end := m.Start.Add(m.Duration)
			if e := t.Start.Add(t.Duration); e.After(end) {
				end = e
			}
			if t.Start.Before(m.Start) {
				m.Start, m.Root = t.Start, t.Root
			}
			m.Duration = end.Sub(m.Start)
			m.Spans += t.Spans
			m.Errors += t.Errors
			for _, p := range t.Processes {
				if !slices.Contains(m.Processes, p) {
					m.Processes = append(m.Processes, p)
				}
			}
		}
	}
	out := make([]api.TraceSummary, 0, len(order))
	for _, id := range order {
		t := byID[id]
		slices.Sort(t.Processes)
		out = append(out, *t)
	}
	return Select(out, q)
}
