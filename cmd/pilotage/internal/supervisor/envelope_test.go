package supervisor

import (
	"strings"
	"testing"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
)

// A proclet of another envelope protocol version (an app built with
// another github.com/pilotage/pilotage module) is killed, and the
// component's failure says what to upgrade.
func TestProcletProtocolMismatch(t *testing.T) {
	t.Parallel()
	h := start(t, desc("*main.Main:c.C", "c.C"), "[run]\nreplicas = 1\nstart_limit = 1\n", "FAKE_PROTOCOL=c.C=99")
	h.eventually("c.C to fail", func() bool { return h.unit("c.C").State == control.Failed })
	why := h.unit("c.C").Why
	for _, want := range []string{"envelope protocol 99", "upgrade the pilotage command"} {
		if !strings.Contains(why, want) {
			t.Errorf("why = %q, want it to say %q", why, want)
		}
	}
}

// A proclet that names what it was not given (a second hello, a listener
// or component it does not have) is killed for it: nothing it sends can
// grow the supervisor's state or start another liveness watch.
func TestProcletBreakingProtocolKilled(t *testing.T) {
	t.Parallel()
	for what, want := range map[string]string{
		"hello":     "a second hello",
		"listening": `listening on "bogus", a listener it does not have`,
		"component": `"example.com/bogus.Bogus", a component it does not host`,
	} {
		t.Run(what, func(t *testing.T) {
			t.Parallel()
			h := start(t, desc("*main.Main:c.C", "c.C"), "[run]\nreplicas = 1\nstart_limit = 1\n", "FAKE_BOGUS=c.C="+what)
			h.eventually("c.C to fail", func() bool { return h.unit("c.C").State == control.Failed })
			if why := h.unit("c.C").Why; !strings.Contains(why, want) {
				t.Errorf("why = %q, want it to say %q", why, want)
			}
		})
	}
}
