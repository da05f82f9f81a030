package cli

import (
	"encoding/json"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// The tree commands on their own, as scripts use them, against a real app
// under "pilotage run": output that pipes, -o json, and for bad input, an
// unknown path, a node that cannot do what is asked and an app whose
// supervisor died, one line on stderr and an exit status that says which.
func TestTreeCommandsOnTheirOwn(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the pilotage command")
	}
	state, err := os.MkdirTemp("", "pl")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(state)
	st := runTestApp(t, state)
	app := "/apps/" + st.App

	out := mustRun(t, "ls", "/apps")
	if out != st.App+"\n" {
		t.Errorf("ls /apps: %q", out)
	}
	var nodes []tree.Node
	if err := json.Unmarshal([]byte(mustRun(t, "ls", "-o", "json", app+"/components")), &nodes); err != nil || len(nodes) == 0 {
		t.Fatalf("ls -o json: %v, %v", nodes, err)
	}
	comp := nodes[0].Path
	if out := mustRun(t, "ls", "-l", comp+"/replicas"); !strings.HasPrefix(out, "NAME ") || strings.ContainsAny(out, "│─\x1b") {
		t.Errorf("ls -l in a pipe has borders or colour: %q", out)
	}
	if out := mustRun(t, "cat", comp+"/replicas/0/status"); !strings.Contains(out, "pid: ") {
		t.Errorf("cat of a replica's status: %q", out)
	}

	for _, tc := range []struct {
		args   []string
		status int
		stderr string
	}{
		{[]string{"ls", app + "/nope"}, 3, "ls: " + app + "/nope: no such path\n"},
		{[]string{"cat", app + "/components/*/nope"}, 3, "cat: " + app + "/components/*/nope: no match: no such path\n"},
		{[]string{"exec", app + "/components", "true"}, 1, "exec: cannot exec in " + app + "/components: not supported here\n"},
		{[]string{"ls", "-q", app}, 2, "ls: flag provided but not defined: -q\n"},
		{[]string{"cat", "/apps/%zz"}, 2, `cat: path "/apps/%zz": bad escape in "%zz"`},
	} {
		_, stderr, status := run(t, tc.args...)
		if status != tc.status || !strings.HasPrefix(stderr, tc.stderr) {
			t.Errorf("pilotage %s: status %d, stderr %q; want %d, %q", strings.Join(tc.args, " "), status, stderr, tc.status, tc.stderr)
		}
	}

	// The supervisor dies (kill -9): one line, not a stack of dial errors.
	if err := syscall.Kill(st.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, stderr, status := run(t, "ls", app+"/components")
		if status != 0 {
			if strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, st.App) {
				t.Errorf("ls of a dead app: status %d, stderr %q", status, stderr)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ls still succeeds 10s after the supervisor was killed")
		}
	}
}
