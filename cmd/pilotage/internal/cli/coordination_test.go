package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
)

func TestPrintCoordination(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	var b strings.Builder
	if err := printLocks(&b, []api.LockStatus{
		{Name: "job", Holder: "worker.Worker/1 pid 4242", Token: 57, Waiters: 2, Expires: now.Add(1420 * time.Millisecond)},
		{Name: "ledger", Holder: "supervisor pid 7", Token: 9},
	}, now); err != nil {
		t.Fatal(err)
	}
	if err := printLeaders(&b, []api.LeaderStatus{
		{Election: "coordinator", Holder: "coord.Coord/0 pid 11", Value: "10.0.0.1:9000", Token: 60, Candidates: 2},
		{Election: "quiet", Holder: "coord.Coord/1 pid 12", Value: "", Token: 61, Candidates: 1},
		{Election: "spaced", Holder: "coord.Coord/1 pid 12", Value: "a b", Token: 62, Candidates: 1},
	}); err != nil {
		t.Fatal(err)
	}
	if err := printConfigKeys(&b, []api.ConfigKeyStatus{{Key: "limits/api", Revision: 12, Size: 11, Typed: true}, {Key: "note", Revision: 14, Size: 3}}, ""); err != nil {
		t.Fatal(err)
	}
	for _, empty := range []error{printLocks(&b, nil, now), printLeaders(&b, nil), printConfigKeys(&b, nil, ""), printConfigKeys(&b, nil, "x/")} {
		if empty != nil {
			t.Fatal(empty)
		}
	}
	want := `NAME    HOLDER                    TOKEN  EXPIRES  WAITERS
job     worker.Worker/1 pid 4242  57     in 1.4s  2
ledger  supervisor pid 7          9      -        0
ELECTION     LEADER                VALUE          TOKEN  CANDIDATES
coordinator  coord.Coord/0 pid 11  10.0.0.1:9000  60     2
quiet        coord.Coord/1 pid 12  -              61     1
spaced       coord.Coord/1 pid 12  "a b"          62     1
KEY         REVISION  SIZE  TYPED
limits/api  12        11    yes
note        14        3     no
no lock is held or waited for
no election has candidates
no config key is set
no config key starts with "x/"
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestConfigUsage(t *testing.T) {
	stateHome(t)
	for _, args := range [][]string{{"config", "get"}, {"config", "put", "k"}, {"config", "ls", "a", "b"}, {"config", "rm", "a", "b"}, {"locks", "a", "b"}, {"unlock"}} {
		if _, errs, code := run(t, args...); code != 2 || !strings.Contains(errs, "usage: pilotage "+args[0]) {
			t.Errorf("pilotage %s: %d %q", strings.Join(args, " "), code, errs)
		}
	}
	if _, errs, code := run(t, "locks"); code != 1 || !strings.Contains(errs, "running") {
		t.Errorf("locks with no app running: %d %q", code, errs)
	}
}
