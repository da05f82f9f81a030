package generate

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestPartial checks problems found while loading: an interface whose package
// is not matched by the patterns, and type errors.
func TestPartial(t *testing.T) {
	t.Parallel()
	dir := writeModule(t, "partial", "partial")
	want := wantComments(t, dir)
	for _, pkg := range []string{"b", "c"} {
		err := Generate(dir, []string{"./" + pkg})
		var list ErrorList
		if !errors.As(err, &list) || len(list) != 1 {
			t.Errorf("Generate ./%s = %v, want one problem", pkg, err)
			continue
		}
		p := list[0]
		key := fmt.Sprintf("%s:%d", filepath.ToSlash(p.Pos.Filename), p.Pos.Line)
		if sub, ok := want[key]; !ok || !strings.Contains(p.Msg, sub) {
			t.Errorf("Generate ./%s: got %q at %s; want comments: %q", pkg, p.Msg, key, want)
		}
	}
	// With the interface's package included, generation succeeds.
	if err := Generate(dir, []string{"./a", "./b"}); err != nil {
		t.Errorf("Generate ./a ./b: %v", err)
	}
	mustGo(t, dir, "build", "./a", "./b")
}
