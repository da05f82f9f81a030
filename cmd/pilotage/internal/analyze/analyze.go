// Package analyze prints how an application's units started, in the manner
// of systemd-analyze: the critical chain that decided when the application
// became ready, and the units sorted by how long they took to start.
package analyze

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A Unit is the startup timeline of one unit (a process group or a
// non-Go unit).
type Unit struct {
	Name  string    `json:"name"`
	Start time.Time `json:"start"` // zero if never started
	Ready time.Time `json:"ready"` // zero if never ready
	After []string  `json:"after"` // the units it waited for
}

const header = `The time when unit became active or started is printed after the "@" character.
The time the unit took to start is printed after the "+" character.

`

// CriticalChain prints, like systemd-analyze critical-chain, the chain of
// units that decided when the application became ready: from the unit that
// became ready last, back through the unit it waited for that became ready
// last (before it started), and so on. Times after "@" are relative to the
// first start of any unit. Units that never became ready are listed after
// the chain.
func CriticalChain(w io.Writer, units []Unit) error {
	bw := bufio.NewWriter(w)
	bw.WriteString(header)
	t0, ok := origin(units)
	if !ok {
		bw.WriteString("No unit has started.\n")
		return flush(bw)
	}
	byName := map[string]*Unit{}
	for i := range units {
		byName[units[i].Name] = &units[i]
	}

	var last *Unit
	for i := range units {
		u := &units[i]
		if !u.Ready.IsZero() && (last == nil || u.Ready.After(last.Ready) || u.Ready.Equal(last.Ready) && u.Name < last.Name) {
			last = u
		}
	}
	seen := map[string]bool{}
	for depth, u := 0, last; u != nil; depth++ {
		seen[u.Name] = true
		if depth > 0 {
			bw.WriteString(strings.Repeat("  ", depth-1) + "└─")
		}
		fmt.Fprintf(bw, "%s @%s +%s\n", u.Name, Format(u.Ready.Sub(t0)), Format(took(u)))
		u = criticalDep(u, byName, seen)
	}

	stuck := stuckUnits(units)
	if last != nil && len(stuck) > 0 {
		bw.WriteString("\n")
	}
	for _, u := range stuck {
		fmt.Fprintf(bw, "%s: %s\n", u.Name, notReady(u, t0, byName))
	}
	return flush(bw)
}

// criticalDep returns the unit u waited for that became ready last, not
// after u started; nil if none.
func criticalDep(u *Unit, byName map[string]*Unit, seen map[string]bool) *Unit {
	var best *Unit
	for _, name := range u.After {
		d := byName[name]
		if d == nil || seen[name] || d.Ready.IsZero() || d.Ready.After(u.Start) {
			continue
		}
		if best == nil || d.Ready.After(best.Ready) || d.Ready.Equal(best.Ready) && d.Name < best.Name {
			best = d
		}
	}
	return best
}

// notReady describes a unit that never became ready.
func notReady(u *Unit, t0 time.Time, byName map[string]*Unit) string {
	if !u.Start.IsZero() {
		return "not ready (started @" + Format(u.Start.Sub(t0)) + ")"
	}
	var waiting []string
	for _, name := range u.After {
		if d := byName[name]; d == nil || d.Ready.IsZero() {
			waiting = append(waiting, name)
		}
	}
	if len(waiting) > 0 {
		return "not started (waiting for " + strings.Join(waiting, ", ") + ")"
	}
	return "not started"
}

// Blame prints, like systemd-analyze blame, the units that became ready
// sorted by the time they took to start, longest first, then those that
// did not.
func Blame(w io.Writer, units []Unit) error {
	type row struct{ d, name string }
	var rows []row
	ready := slices.Clone(units)
	ready = slices.DeleteFunc(ready, func(u Unit) bool { return u.Ready.IsZero() })
	slices.SortStableFunc(ready, func(a, b Unit) int {
		if c := cmp.Compare(took(&b), took(&a)); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	for _, u := range ready {
		rows = append(rows, row{Format(took(&u)), u.Name})
	}
	t0, _ := origin(units)
	byName := map[string]*Unit{}
	for i := range units {
		byName[units[i].Name] = &units[i]
	}
	for _, u := range stuckUnits(units) {
		rows = append(rows, row{"-", u.Name + ": " + notReady(u, t0, byName)})
	}
	width := 0
	for _, r := range rows {
		width = max(width, len(r.d))
	}
	bw := bufio.NewWriter(w)
	for _, r := range rows {
		fmt.Fprintf(bw, "  %*s %s\n", width, r.d, r.name)
	}
	return flush(bw)
}

// took returns how long u took to become ready.
func took(u *Unit) time.Duration {
	if u.Start.IsZero() || u.Ready.IsZero() {
		return 0
	}
	return u.Ready.Sub(u.Start)
}

// stuckUnits returns the units never ready, by start time, never started
// last.
func stuckUnits(units []Unit) []*Unit {
	var stuck []*Unit
	for i := range units {
		if units[i].Ready.IsZero() {
			stuck = append(stuck, &units[i])
		}
	}
	slices.SortStableFunc(stuck, func(a, b *Unit) int {
		if c := compareStart(a, b); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return stuck
}

// compareStart orders units by start time, never started last.
func compareStart(a, b *Unit) int {
	switch {
	case a.Start.IsZero() && b.Start.IsZero():
		return 0
	case a.Start.IsZero():
		return 1
	case b.Start.IsZero():
		return -1
	}
	return a.Start.Compare(b.Start)
}

// origin returns the earliest start of any unit.
func origin(units []Unit) (time.Time, bool) {
	var t0 time.Time
	for _, u := range units {
		if !u.Start.IsZero() && (t0.IsZero() || u.Start.Before(t0)) {
			t0 = u.Start
		}
	}
	return t0, !t0.IsZero()
}

func flush(bw *bufio.Writer) error {
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	return nil
}

// Format formats d the way systemd-analyze does: "850us", "412ms",
// "1.203s", "2min 3.100s".
func Format(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Millisecond:
		return strconv.FormatInt(d.Microseconds(), 10) + "us"
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	case d < time.Minute:
		return seconds(d)
	}
	m := d / time.Minute
	return strconv.FormatInt(int64(m), 10) + "min " + seconds(d-m*time.Minute)
}

func seconds(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Milliseconds())/1000, 'f', 3, 64) + "s"
}
