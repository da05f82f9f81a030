package graph

import (
	"bytes"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func mustRecord(t *testing.T, c Component) string {
	t.Helper()
	r, err := Record(c)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Records found among other bytes come back as written, sorted by name,
// whatever characters their names and keys hold; copies are merged and
// look-alikes (a bad checksum, a record cut short) skipped.
func TestRecordsRoundTrip(t *testing.T) {
	main := Component{Name: "github.com/pilotage/pilotage.Main", Refs: []string{"example.com/app/b.B"}, Listeners: []string{"web"}, Main: true}
	b := Component{Name: "example.com/app/b.B", Refs: []string{}, Listeners: []string{}, Config: &Type{Kind: Table, Fields: []Field{
		{Key: "size", Type: &Type{Kind: Int32}},
		{Key: "naïve ⟧ \"key\" 🙂", Type: &Type{Kind: Map, Elem: &Type{Kind: Array, Elem: &Type{Kind: Duration}}}},
	}}}
	rb := mustRecord(t, b)
	if !isASCII(strings.TrimSuffix(strings.TrimPrefix(rb, recordStart), recordEnd)) {
		t.Errorf("record %q holds non-ASCII bytes between its delimiters", rb)
	}
	forged := strings.Replace(rb, `"size"`, `"SIZE"`, 1) // the checksum no longer matches
	data := bytes.Join([][]byte{
		[]byte("\x00\x01garbage" + recordStart + "v1:zz"),
		[]byte(rb), []byte("\x7fELF"), []byte(mustRecord(t, main)), []byte(forged), []byte(rb),
		[]byte(recordStart + "v1:12345678:{\"name\":"), // cut short
	}, nil)
	g, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	want := &Graph{Components: []Component{b, main}}
	if !reflect.DeepEqual(g, want) {
		t.Errorf("Parse = %+v\nwant %+v", g, want)
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// A binary without records, with an incomplete graph, or with records of a
// newer format is refused with an error that says what to do.
func TestParseErrors(t *testing.T) {
	main := Component{Name: "github.com/pilotage/pilotage.Main", Refs: []string{"example.com/app/b.B"}, Main: true}
	b := Component{Name: "example.com/app/b.B"}
	for _, tc := range []struct {
		name string
		data string
		want string
	}{
		{"none", "\x7fELF... no records", `no component graph embedded: is it a pilotage application? If it is, its generated code predates the embedded graph: run "pilotage generate" again`},
		{"missing ref", mustRecord(t, main), `component github.com/pilotage/pilotage.Main refers to example.com/app/b.B, which is not described`},
		{"no main", mustRecord(t, b), "no main component is described"},
		{"newer", mustRecord(t, main) + recordStart + "v2:00000000:{}" + recordEnd, "the component graph is in format v2, which this pilotage command does not read (it reads v1): upgrade the pilotage command"},
		{"twice", mustRecord(t, main) + mustRecord(t, b) + mustRecord(t, Component{Name: b.Name, Listeners: []string{"x"}}), "component example.com/app/b.B is described twice, differently"},
	} {
		_, err := Parse([]byte(tc.data))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Parse = %v, want an error containing %q", tc.name, err, tc.want)
		}
		if tc.name == "none" && !errors.Is(err, ErrNoGraph) {
			t.Errorf("none: Parse = %v, want ErrNoGraph", err)
		}
	}
}

// The graph is read from a binary built for another platform, without
// running it: loadapp cross-compiled for linux/arm64 (linux/amd64 on an
// arm64 Linux host).
func TestReadCrossBuiltBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles an application")
	}
	goarch := "arm64"
	if runtime.GOOS == "linux" && runtime.GOARCH == "arm64" {
		goarch = "amd64"
	}
	bin := filepath.Join(t.TempDir(), "loadapp")
	cmd := exec.Command("go", "build", "-o", bin, "../testapp/loadapp")
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+goarch, "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cross-build loadapp: %v\n%s", err, out)
	}
	ef, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	machine := ef.Machine
	ef.Close()
	if want := map[string]elf.Machine{"arm64": elf.EM_AARCH64, "amd64": elf.EM_X86_64}[goarch]; machine != want {
		t.Fatalf("built a %v binary, want %v", machine, want)
	}

	g, err := Read(bin)
	if err != nil {
		t.Fatal(err)
	}
	const testapp = "github.com/pilotage/pilotage/internal/testapp"
	want := &Graph{Components: []Component{
		{Name: "github.com/pilotage/pilotage.Main", Refs: []string{testapp + ".Front", testapp + ".Calc"}, Listeners: []string{"http"}, Main: true},
		{Name: testapp + ".Calc", Refs: []string{}, Listeners: []string{}, Methods: []Method{
			{Name: "Boom", Params: []Param{}, Results: []string{}},
			{Name: "Calls", Params: []Param{}, Results: []string{"int64"}},
			{Name: "Fault", Params: []Param{{Name: "mode", Type: "string"}}, Results: []string{"int"}},
			{Name: "Half", Params: []Param{{Name: "n", Type: "int"}}, Results: []string{"int"}},
			{Name: "Host", Params: []Param{}, Results: []string{"string"}},
			{Name: "Move", Params: []Param{{Name: "p", Type: "*Point"}, {Name: "x", Type: "int"}}, Results: []string{"*Point"}},
			{Name: "PID", Params: []Param{}, Results: []string{"int"}},
			{Name: "Sicken", Params: []Param{}, Results: []string{"int"}},
			{Name: "Sleep", Params: []Param{{Name: "d", Type: "time.Duration"}}, Results: []string{"int"}},
		}},
		{Name: testapp + ".Front", Refs: []string{testapp + ".Calc"}, Listeners: []string{}, Methods: []Method{
			{Name: "HalfViaCalc", Params: []Param{{Name: "n", Type: "int"}}, Results: []string{"int"}},
			{Name: "HostsViaCalc", Params: []Param{}, Results: []string{"[]string"}},
			{Name: "Total", Params: []Param{{Name: "amounts", Type: "[]money.Amount"}}, Results: []string{"money.Amount"}},
		}},
		{Name: testapp + ".Web", Refs: []string{}, Listeners: []string{"site"}, Config: &Type{Kind: Table, Fields: []Field{{Key: "fail_init", Type: &Type{Kind: Bool}}}},
			Methods: []Method{{Name: "Addr", Params: []Param{}, Results: []string{"string"}}}},
	}}
	if !reflect.DeepEqual(g, want) {
		t.Errorf("Read(loadapp for linux/%s) = %s\nwant %s", goarch, dump(g), dump(want))
	}
}

func dump(g *Graph) string {
	var b strings.Builder
	for _, c := range g.Components {
		r, _ := Record(c)
		b.WriteString("\n" + r)
	}
	return b.String()
}
