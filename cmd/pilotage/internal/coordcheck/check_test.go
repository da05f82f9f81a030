package coordcheck

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// checkTimeout bounds porcupine's search of one history.
const checkTimeout = 30 * time.Second

// checkLinearizable checks the history of records against c, failing the
// test with the path of the saved history and visualization unless
// porcupine finds it linearizable within timeout. It returns the history.
func checkLinearizable(t *testing.T, name string, c Checker, records []Record, timeout time.Duration) []porcupine.Operation {
	t.Helper()
	ops, stats := Operations(records, c)
	start := time.Now()
	res := porcupine.CheckOperationsTimeout(c.Model(), ops, timeout)
	t.Logf("%s: %d operations (%v), checked in %v: %s", name, len(ops), stats, time.Since(start).Round(time.Millisecond), res)
	if res != porcupine.Ok {
		dir := saveFailure(t, name, c, records, ops)
		t.Fatalf("%s: porcupine says %s; history and visualization in %s", name, res, dir)
	}
	return ops
}

// saveFailure writes the records (history.json) and porcupine's
// visualization (history.html) to a directory that outlives the test:
// $PILOTAGE_TEST_ARTIFACTS if set, else a new one in the system's
// temporary directory. It returns the directory.
func saveFailure(t *testing.T, name string, c Checker, records []Record, ops []porcupine.Operation) string {
	t.Helper()
	base := os.Getenv("PILOTAGE_TEST_ARTIFACTS")
	if base != "" {
		if err := os.MkdirAll(base, 0o755); err != nil {
			t.Errorf("artifacts: %v", err)
		}
	}
	slug := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name() + "-" + name)
	dir, err := os.MkdirTemp(base, "coordcheck-"+slug+"-")
	if err != nil {
		t.Errorf("artifacts: %v", err)
		return "(not saved)"
	}
	if err := writeJSON(filepath.Join(dir, "history.json"), records); err != nil {
		t.Errorf("artifacts: %v", err)
	}
	_, info := porcupine.CheckOperationsVerbose(c.Model(), ops, checkTimeout)
	if err := porcupine.VisualizePath(c.Model(), info, filepath.Join(dir, "history.html")); err != nil {
		t.Errorf("artifacts: visualize: %v", err)
	}
	return dir
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return os.WriteFile(path, data, 0o644)
}

// outcomes counts the operations of a history by kind and result, to
// show what a run exercised.
func outcomes(ops []porcupine.Operation) string {
	counts := map[string]int{}
	for _, op := range ops {
		in, out := op.Input.(Input), op.Output.(Output)
		res := "ok"
		switch {
		case out.Unknown:
			res = "unknown"
		case out.Refused != "":
			res = out.Refused
		case !out.OK:
			res = "no"
		}
		counts[in.Op+" "+res]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, counts[k])
	}
	return strings.Join(parts, ", ")
}
