package generate

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestInvalid runs Generate on testdata/invalid.txtar and checks that it
// reports exactly the problems announced by the "// want" comments, at their
// file and line, and writes no file.
func TestInvalid(t *testing.T) {
	t.Parallel()
	dir := writeModule(t, "invalid", "invalid")
	want := wantComments(t, dir)
	err := Generate(dir, []string{"./..."})
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("Generate = %v, want an ErrorList", err)
	}
	got := map[string][]string{}
	for _, p := range list {
		key := fmt.Sprintf("%s:%d", filepath.ToSlash(p.Pos.Filename), p.Pos.Line)
		got[key] = append(got[key], p.Msg)
		if p.Pos.Column == 0 {
			t.Errorf("%s: no column in %q", key, p.Error())
		}
	}
	for key, sub := range want {
		msgs := got[key]
		if len(msgs) != 1 || !strings.Contains(msgs[0], sub) {
			t.Errorf("%s: got %q, want one problem containing %q", key, msgs, sub)
		}
		delete(got, key)
	}
	for key, msgs := range got {
		t.Errorf("%s: unexpected problems %q", key, msgs)
	}
	if t.Failed() {
		t.Logf("all problems:\n%v", err)
	}
	if files := readGenFiles(t, dir); len(files) != 0 {
		t.Errorf("Generate wrote files despite problems: %v", files)
	}
}

var wantRE = regexp.MustCompile(`// want (".*")\s*$`)

// wantComments returns the expected message parts by "file:line".
func wantComments(t *testing.T, dir string) map[string]string {
	t.Helper()
	want := map[string]string{}
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || !strings.HasSuffix(path, ".go") {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		rel, _ := filepath.Rel(dir, path)
		sc := bufio.NewScanner(f)
		for line := 1; sc.Scan(); line++ {
			if m := wantRE.FindStringSubmatch(sc.Text()); m != nil {
				s, err := strconv.Unquote(m[1])
				if err != nil {
					return fmt.Errorf("%s:%d: bad want comment: %v", rel, line, err)
				}
				want[fmt.Sprintf("%s:%d", filepath.ToSlash(rel), line)] = s
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 {
		t.Fatal("no want comments found")
	}
	return want
}
