package appfs

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

func TestExec(t *testing.T) {
	a := shared(t)
	f := newFS(t, a.root)
	var out, errOut bytes.Buffer
	status, err := f.Exec(testContext(t), "/apps/shop/components/a.A/replicas/0", tree.ExecRequest{
		Command: []string{"sh", "-c", `echo "$X in $PWD"; echo oops >&2; exit 3`}, Stdout: &out, Stderr: &errOut,
	})
	if err != nil {
		t.Fatal(err)
	}
	if status != 3 || out.String() != "x-value-42 in "+a.workDir+"\n" || errOut.String() != "oops\n" {
		t.Errorf("exec = %d, stdout %q, stderr %q; want 3, %q, %q", status, out.String(), errOut.String(), "x-value-42 in "+a.workDir+"\n", "oops\n")
	}

	// Standard input, and its end.
	out.Reset()
	status, err = f.Exec(testContext(t), "/apps/shop/units/sleeper/replicas/0", tree.ExecRequest{
		Command: []string{"sh", "-c", `cat; echo "$UNIT_VAR"`}, Stdin: strings.NewReader("in\n"), Stdout: &out,
	})
	if err != nil || status != 0 || out.String() != "in\nunit-value\n" {
		t.Errorf("exec in the unit = %d, %q, %v", status, out.String(), err)
	}

	// Killed by a signal: 128+n.
	status, err = f.Exec(testContext(t), "/apps/shop/components/a.A/replicas/1", tree.ExecRequest{Command: []string{"sh", "-c", "kill -TERM $$"}})
	if err != nil || status != 128+15 {
		t.Errorf("exec of a command killed by SIGTERM = %d, %v; want 143", status, err)
	}

	_, err = f.Exec(testContext(t), "/apps/shop/components/a.A/replicas/0", tree.ExecRequest{Command: []string{"no-such-command-here"}})
	if !errors.Is(err, tree.ErrNotFound) || !strings.Contains(err.Error(), "not found in the replica's PATH") {
		t.Errorf("exec of a missing command = %v", err)
	}
	if _, err := f.Exec(testContext(t), "/apps/shop/components/a.A", tree.ExecRequest{Command: []string{"true"}}); !errors.Is(err, tree.ErrNotSupported) {
		t.Errorf("exec in a component = %v, want ErrNotSupported", err)
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	if _, err := lookPath("sh", "/nonexistent:/bin:/usr/bin", dir); err != nil {
		t.Errorf("lookPath(sh) = %v", err)
	}
	if _, err := lookPath("sh", "/nonexistent", dir); err == nil {
		t.Error("lookPath found sh in /nonexistent")
	}
	if p, err := lookPath("/bin/sh", "", dir); err != nil || p != "/bin/sh" {
		t.Errorf("lookPath(/bin/sh) = %s, %v", p, err)
	}
	if _, err := lookPath("./x", "", dir); err == nil {
		t.Error("lookPath(./x) found a file that does not exist")
	}
}
