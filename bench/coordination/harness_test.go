package coordination

import (
	"testing"
	"time"
)

// The percentiles are by nearest rank: with 20 samples, p50 is the 10th
// and p99 the 20th.
func TestPercentile(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 20; i++ {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    int
		want time.Duration
	}{{50, 10 * time.Millisecond}, {99, 20 * time.Millisecond}, {100, 20 * time.Millisecond}, {1, time.Millisecond}} {
		if got := percentile(s, c.p); got != c.want {
			t.Errorf("p%d of 1..20ms = %v, want %v", c.p, got, c.want)
		}
	}
	if got := percentile(s[:1], 99); got != time.Millisecond {
		t.Errorf("p99 of one sample = %v, want it", got)
	}
}

// The supervisor's line on its embedded store gives both figures; an
// older supervisor's gives one.
func TestReadyIn(t *testing.T) {
	out := "app ready in 1s\npilotage              | coordination store embedded at unix:///tmp/x/etcd.sock, ready in 444ms (the server in 424ms)\n"
	ready, server, ok := readyIn(out)
	if !ok || ready != 444*time.Millisecond || server != 424*time.Millisecond {
		t.Errorf("readyIn = %v, %v, %v; want 444ms, 424ms, true", ready, server, ok)
	}
	ready, server, ok = readyIn("pilotage | coordination store embedded at unix:///s, ready in 248ms\n")
	if !ok || ready != 248*time.Millisecond || server != 0 {
		t.Errorf("readyIn of the older line = %v, %v, %v; want 248ms, 0, true", ready, server, ok)
	}
	if _, _, ok := readyIn("coordination store at http://x:2379, ready in 3ms\n"); ok {
		t.Error("readyIn took an external store's line")
	}
}
