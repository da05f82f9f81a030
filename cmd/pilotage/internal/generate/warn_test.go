package generate

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestWarnings runs Run on testdata/warn.txtar and checks that it warns
// exactly where the "// want" comments say, about the errors whose identity
// Local and RPC mode would disagree on, and still writes the files.
func TestWarnings(t *testing.T) {
	t.Parallel()
	dir := writeModule(t, "warn", "warn")
	want := wantComments(t, dir)
	res, err := Run(Options{Dir: dir})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	got := map[string][]string{}
	for _, p := range res.Warnings {
		key := fmt.Sprintf("%s:%d", filepath.ToSlash(p.Pos.Filename), p.Pos.Line)
		got[key] = append(got[key], p.Msg)
	}
	for key, sub := range want {
		if msgs := got[key]; len(msgs) != 1 || !strings.Contains(msgs[0], sub) {
			t.Errorf("%s: got warnings %q, want one containing %q", key, msgs, sub)
		}
		delete(got, key)
	}
	for key, msgs := range got {
		t.Errorf("%s: unexpected warnings %q", key, msgs)
	}
	if len(res.Changed) != 1 || res.Changed[0] != "shop/pilotage_gen.go" {
		t.Errorf("Changed = %q, want the shop package's file", res.Changed)
	}
	gen := readGenFiles(t, dir)["shop/pilotage_gen.go"]
	if !strings.Contains(gen, `RegisterError("example.com/warn/store.ErrGone", store.ErrGone)`) {
		t.Errorf("shop's generated file does not register store.ErrGone:\n%s", gen)
	}
}
