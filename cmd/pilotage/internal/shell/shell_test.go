package shell

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// testShell returns a shell on a small tree, and its output buffers.
func testShell(t *testing.T) (*Shell, *memFS, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	m := newMemFS()
	created := time.Now().Add(-90 * time.Second)
	for _, c := range []string{"cart.Cart", "catalog.Catalog"} {
		m.add("/apps/shop/components/"+c, tree.Node{Kind: "Component", Dir: true, State: "Ready", Ready: "2/2", Created: created, Actions: []string{"stop", "start", "restart"}}, nil)
		for _, r := range []string{"0", "1"} {
			m.add("/apps/shop/components/"+c+"/replicas/"+r, tree.Node{Kind: "Replica", Dir: true, State: "Ready", Exec: true, Logs: true}, nil)
		}
	}
	m.add("/apps/shop/config/limits", tree.Node{Kind: "ConfigKey", Remove: true}, map[string]any{"rate": 10})
	m.add("/apps/shop/config/motd", tree.Node{Kind: "ConfigKey"}, "hello")
	var out, errOut bytes.Buffer
	s := New(Options{Root: m, Home: "/apps/shop", Stdout: &out, Stderr: &errOut})
	return s, m, &out, &errOut
}

func run(t *testing.T, s *Shell, line string) int {
	t.Helper()
	words, err := SplitWords(line)
	if err != nil {
		t.Fatal(err)
	}
	return s.Run(context.Background(), words)
}

func TestPaths(t *testing.T) {
	s, _, _, _ := testShell(t)
	s.cwd, s.prev = "/apps/shop/components", "/kube"
	for arg, want := range map[string]string{
		"":               "/apps/shop/components",
		".":              "/apps/shop/components",
		"..":             "/apps/shop",
		"../config/x":    "/apps/shop/config/x",
		"~":              "/apps/shop",
		"~/config":       "/apps/shop/config",
		"-":              "/kube",
		"/apps//shop/./": "/apps/shop",
		"/..":            "/",
	} {
		if got, err := s.resolve(arg); err != nil || got != want {
			t.Errorf("resolve(%q) = %q, %v; want %q", arg, got, err, want)
		}
	}
	got, err := s.expand(context.Background(), "/apps/shop/components/*/replicas/1")
	if err != nil || strings.Join(got, " ") != "/apps/shop/components/cart.Cart/replicas/1 /apps/shop/components/catalog.Catalog/replicas/1" {
		t.Errorf("glob: %q, %v", got, err)
	}
	if _, err := s.expand(context.Background(), "/apps/shop/nothing*"); err == nil {
		t.Error("a glob matching nothing is not an error")
	}
}

func TestExitStatuses(t *testing.T) {
	s, _, out, errOut := testShell(t)
	for _, tc := range []struct {
		line   string
		status int
		stderr string
	}{
		{"ls", ExitOK, ""},
		{"ls /apps/nope", ExitNotFound, "ls: /apps/nope: no such path\n"},
		{"ls -x", ExitUsage, "ls: flag provided but not defined: -x\nusage: ls"},
		{"frob", ExitUsage, "frob: unknown command (try help)\n"},
		{"cat /apps/shop/components", ExitError, "cat: /apps/shop/components is a directory (ls lists it): not supported here\n"},
		{"exec /apps/shop/config/limits true", ExitError, "exec: cannot exec in /apps/shop/config/limits: not supported here\n"},
		{"call", ExitUsage, "usage: call"},
	} {
		out.Reset()
		errOut.Reset()
		if got := run(t, s, tc.line); got != tc.status || !strings.HasPrefix(errOut.String(), tc.stderr) {
			t.Errorf("%s: status %d, stderr %q; want %d, %q", tc.line, got, errOut.String(), tc.status, tc.stderr)
		}
	}
}

func TestLsAndCat(t *testing.T) {
	s, _, out, _ := testShell(t)
	run(t, s, "ls components")
	if out.String() != "cart.Cart\ncatalog.Catalog\n" {
		t.Errorf("ls: %q", out.String())
	}
	out.Reset()
	run(t, s, "ls -l components")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") || strings.Join(strings.Fields(lines[1]), " ") != "cart.Cart Component Ready 2/2 0 90s" {
		t.Errorf("ls -l: %q", out.String())
	}
	out.Reset()
	run(t, s, "ls -o json components")
	var nodes []tree.Node
	if err := json.Unmarshal(out.Bytes(), &nodes); err != nil || len(nodes) != 2 || nodes[1].Path != "/apps/shop/components/catalog.Catalog" {
		t.Errorf("ls -o json: %v %q", err, out.String())
	}
	out.Reset()
	run(t, s, "cat config/limits config/motd")
	if out.String() != "# /apps/shop/config/limits\nrate: 10\n\n# /apps/shop/config/motd\nhello\n" {
		t.Errorf("cat: %q", out.String())
	}
	out.Reset()
	run(t, s, "cat -o json config/limits")
	if strings.Join(strings.Fields(out.String()), "") != `{"rate":10}` {
		t.Errorf("cat -o json: %q", out.String())
	}
}

// editor returns an editor command that runs script (sh) on the file,
// and counts its runs in a file it returns.
func editor(t *testing.T, script string) string {
	t.Helper()
	dir := t.TempDir()
	f := filepath.Join(dir, "editor")
	if err := os.WriteFile(f, []byte("#!/bin/sh\necho x >> "+dir+"/runs\nf=\"$1\"\n"+script+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestEdit(t *testing.T) {
	s, m, out, errOut := testShell(t)
	s.editor = editor(t, `sed -i 's/rate: 10/rate: 20/' "$f"`)
	if st := run(t, s, "edit config/limits"); st != 0 || !strings.Contains(out.String(), "saved (version 2)") {
		t.Fatalf("edit: %d %q %q", st, out.String(), errOut.String())
	}
	if string(m.values["/apps/shop/config/limits"]) != `{"rate":20}` {
		t.Errorf("after edit: %s", m.values["/apps/shop/config/limits"])
	}

	// No change: nothing written.
	out.Reset()
	errOut.Reset()
	s.editor = editor(t, "true")
	if st := run(t, s, "edit config/limits"); st != 0 || errOut.String() != "edit /apps/shop/config/limits: no changes\n" || m.version["/apps/shop/config/limits"] != 2 {
		t.Errorf("unchanged edit: %d %q", st, errOut.String())
	}

	// A change underneath: the editor is reopened with a diff of it, and
	// saving again writes over the new version.
	errOut.Reset()
	m.beforeWrite = func(p string) {
		m.beforeWrite = nil
		m.set(p, map[string]any{"rate": 20, "burst": 5})
	}
	s.editor = editor(t, `if grep -q 'changed while you edited' "$f"; then cp "$f" `+t.TempDir()+`/second; else sed -i 's/rate: 20/rate: 30/' "$f"; fi`)
	dir := filepath.Dir(s.editor)
	if st := run(t, s, "edit config/limits"); st != 0 {
		t.Fatalf("edit with a conflict: %d %q", st, errOut.String())
	}
	second, _ := filepath.Glob(filepath.Join(filepath.Dir(filepath.Dir(s.editor)), "*", "second"))
	runs, _ := os.ReadFile(filepath.Join(dir, "runs"))
	if strings.Count(string(runs), "x") != 2 || len(second) != 1 {
		t.Fatalf("editor ran %d times, second file %v", strings.Count(string(runs), "x"), second)
	}
	shown, _ := os.ReadFile(second[0])
	if !strings.Contains(string(shown), "# +burst: 5") || !strings.Contains(string(shown), "rate: 30") {
		t.Errorf("reopened file does not show the change underneath and keep the edits:\n%s", shown)
	}
	if string(m.values["/apps/shop/config/limits"]) != `{"rate":30}` {
		t.Errorf("after the conflict: %s", m.values["/apps/shop/config/limits"])
	}

	// A refused value reopens with the message; unchanged after it, the
	// edit ends, keeping the edits in a file.
	out.Reset()
	errOut.Reset()
	m.refuse = func(v json.RawMessage) error { return fmt.Errorf("rate must be below 100") }
	s.editor = editor(t, `grep -q 'refused' "$f" || sed -i 's/rate: 30/rate: 300/' "$f"`)
	if st := run(t, s, "edit config/limits"); st != ExitError || !strings.Contains(errOut.String(), "unchanged after the error above); your edits are in") {
		t.Errorf("refused edit: %d %q", st, errOut.String())
	}
	if string(m.values["/apps/shop/config/limits"]) != `{"rate":30}` {
		t.Errorf("a refused value was written: %s", m.values["/apps/shop/config/limits"])
	}
}

func TestRmAndActions(t *testing.T) {
	s, m, out, errOut := testShell(t)
	if st := run(t, s, "rm config/limits"); st != ExitError || !strings.Contains(errOut.String(), "without -f") || len(m.removed) != 0 {
		t.Errorf("rm without -f and no terminal: %d %q", st, errOut.String())
	}
	if st := run(t, s, "rm -f config/limits"); st != 0 || len(m.removed) != 1 {
		t.Errorf("rm -f: %d", st)
	}
	if st := run(t, s, "rm -f config/motd"); st != ExitError {
		t.Errorf("rm of a node that cannot be removed: %d", st)
	}
	out.Reset()
	if st := run(t, s, "restart components/*"); st != 0 || len(m.acted) != 2 || !strings.Contains(out.String(), "cart.Cart: restarted") {
		t.Errorf("restart of a glob: %d %v %q", st, m.acted, out.String())
	}
}

func TestExecFanOut(t *testing.T) {
	s, m, out, errOut := testShell(t)
	m.execFn = func(p string, req tree.ExecRequest) (int, error) {
		fmt.Fprintf(req.Stdout, "%s\n", strings.Join(req.Command, " "))
		if strings.Contains(p, "catalog") {
			return 3, nil
		}
		return 0, nil
	}
	st := run(t, s, "exec components/*/replicas/0 -- echo hi")
	if st != ExitError || !strings.Contains(out.String(), "components/cart.Cart/replicas/0: echo hi\n") {
		t.Errorf("exec fan-out: %d %q", st, out.String())
	}
	table := strings.Join(strings.Fields(errOut.String()), " ")
	if !strings.Contains(table, "TARGET STATUS components/cart.Cart/replicas/0 exit 0 components/catalog.Catalog/replicas/0 exit 3") {
		t.Errorf("exit table: %q", errOut.String())
	}
	// One target: its status is the command's.
	if st := run(t, s, "exec components/catalog.Catalog/replicas/1 false"); st != 3 {
		t.Errorf("exec status: %d", st)
	}
}

func TestComplete(t *testing.T) {
	s, _, _, _ := testShell(t)
	ctx := context.Background()
	for _, tc := range []struct {
		line, want string
		cands      []string
	}{
		{"tre", "tree ", nil},
		{"ls comp", "ls components/", nil},
		{"ls components/ca", "ls components/ca", []string{"cart.Cart", "catalog.Catalog"}},
		{"ls components/cat", "ls components/catalog.Catalog/", nil},
		{"cat /apps/shop/config/m", "cat /apps/shop/config/motd ", nil},
		{"cd /ap", "cd /apps/", nil},
	} {
		got, pos, cands := s.complete(ctx, tc.line, len(tc.line))
		if got != tc.want || pos != len(tc.want) || strings.Join(cands, ",") != strings.Join(tc.cands, ",") {
			t.Errorf("complete(%q) = %q, %d, %q; want %q, %q", tc.line, got, pos, cands, tc.want, tc.cands)
		}
	}
}

func TestSplitWords(t *testing.T) {
	got, err := SplitWords(`call x Add '{"a": 1}' "b c" d\ e`)
	if err != nil || strings.Join(got, "|") != `call|x|Add|{"a": 1}|b c|d e` {
		t.Errorf("SplitWords: %q, %v", got, err)
	}
	if _, err := SplitWords(`echo "x`); err == nil {
		t.Error("an unclosed quote is not an error")
	}
}

func TestScript(t *testing.T) {
	s, _, out, errOut := testShell(t)
	s.stdin = strings.NewReader("cd components\n# a comment\n\npwd\nls /nope\npwd\n")
	if st := s.Interactive(context.Background()); st != ExitNotFound || out.String() != "/apps/shop/components\n" || !strings.Contains(errOut.String(), "/nope") {
		t.Errorf("script: %d %q %q", st, out.String(), errOut.String())
	}
}
