package loadgen

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestPlanRoundTrip(t *testing.T) {
	p, err := ParsePlan("100x1, 10240x64", time.Millisecond, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.String(); got != "100x1,10240x64" {
		t.Errorf("String: %q", got)
	}
	for _, bad := range []string{"", "100", "100x0", "ax1", "-1x2"} {
		if _, err := ParsePlan(bad, 0, 0); err == nil {
			t.Errorf("ParsePlan(%q) accepted", bad)
		}
	}
}

// Results printed by a client process are found in its output under a
// supervisor's prefixes, and a run measures what it is given.
func TestRunPrintRead(t *testing.T) {
	plan := Plan{Cases: []Case{{Size: 10, Callers: 2}}, Warmup: 10 * time.Millisecond, Duration: 50 * time.Millisecond}
	echo := func(_ context.Context, _ int, p []byte) ([]byte, error) { return p, nil }
	res, err := Run(context.Background(), plan, echo, func(context.Context) (uint64, error) { return Mallocs(), nil })
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	out.WriteString("pilotage | starting\n")
	if err := Print(&out, res); err != nil {
		t.Fatal(err)
	}
	got, err := ReadResults(strings.ReplaceAll(out.String(), resultPrefix, "main/0 | "+resultPrefix))
	if err != nil || len(got) != 1 || got[0].Calls == 0 || got[0].Calls != res[0].Calls || got[0].P50 > got[0].P99 {
		t.Fatalf("read back %+v, %v; printed %+v", got, err, res)
	}
}
