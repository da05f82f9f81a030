package cli

import (
	"strings"
	"testing"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
)

func TestActionOutcome(t *testing.T) {
	for _, tc := range []struct {
		op      string
		res     control.ActionResult
		wantErr string
		wantOut string
	}{
		{"start", control.ActionResult{State: control.Ready, Settled: true, Message: "component a.A: ready"}, "", "component a.A: ready\n"},
		{"start", control.ActionResult{State: control.Starting, Message: "component a.A: still starting: waiting for unit db"}, "start did not settle in time: component a.A: still starting: waiting for unit db", ""},
		{"restart", control.ActionResult{State: control.Failed, Settled: true, Message: "component a.A: failed: boom"}, "component a.A: failed: boom", ""},
		{"restart", control.ActionResult{State: control.Degraded, Settled: true, Message: "component a.A: degraded: 1 of 2 replicas serve"}, "component a.A: degraded: 1 of 2 replicas serve", ""},
		{"stop", control.ActionResult{State: control.Stopped, Settled: true, Message: "component a.A: stopped"}, "", "component a.A: stopped\n"},
	} {
		var out strings.Builder
		err := actionOutcome(tc.op, &tc.res, &out)
		if (err == nil) != (tc.wantErr == "") || err != nil && err.Error() != tc.wantErr {
			t.Errorf("%s %+v: err %v, want %q", tc.op, tc.res, err, tc.wantErr)
		}
		if out.String() != tc.wantOut {
			t.Errorf("%s %+v: output %q, want %q", tc.op, tc.res, out.String(), tc.wantOut)
		}
	}
}
