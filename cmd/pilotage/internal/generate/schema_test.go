package generate

import (
	"encoding/json"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"testing"
)

// The schema of a config type lists the keys the TOML decoder matches (tag
// names, else field names; embedded structs flattened; "-" and unexported
// fields left out) with the kind of each value, nested tables included.
func TestConfigSchema(t *testing.T) {
	const src = `package p

import (
	"net/netip"
	"time"
)

type Inner struct {
	Depth uint8 ` + "`toml:\"depth\"`" + `
}

type Embedded struct {
	Flag bool
	Name string ` + "`toml:\"name\"`" + ` // hidden by Config.Name
}

type Custom struct{}

func (*Custom) UnmarshalTOML(any) error { return nil }

type Node struct {
	Kids []Node
}

type Config struct {
	Embedded
	Name     string            ` + "`toml:\"name,omitempty\"`" + `
	Skipped  int               ` + "`toml:\"-\"`" + `
	hidden   int
	Timeout  time.Duration     ` + "`toml:\"timeout\"`" + `
	At       time.Time         ` + "`toml:\"at\"`" + `
	Addr     netip.Addr        ` + "`toml:\"addr\"`" + `
	Ratio    *float32          ` + "`toml:\"ratio\"`" + `
	Inner    Inner             ` + "`toml:\"inner\"`" + `
	Servers  []Inner           ` + "`toml:\"servers\"`" + `
	Limits   map[string]int64  ` + "`toml:\"limits\"`" + `
	Extra    any               ` + "`toml:\"extra\"`" + `
	Own      Custom            ` + "`toml:\"own\"`" + `
	Tree     Node              ` + "`toml:\"tree\"`" + `
}
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	conf := types.Config{Importer: importer.ForCompiler(fset, "source", nil)}
	pkg, err := conf.Check("p", fset, []*ast.File{f}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(configSchema(pkg.Scope().Lookup("Config").Type()))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"kind":"table","fields":[` +
		`{"key":"name","type":{"kind":"string"}},` +
		`{"key":"timeout","type":{"kind":"duration"}},` +
		`{"key":"at","type":{"kind":"datetime"}},` +
		`{"key":"addr","type":{"kind":"text"}},` +
		`{"key":"ratio","type":{"kind":"float32"}},` +
		`{"key":"inner","type":{"kind":"table","fields":[{"key":"depth","type":{"kind":"uint8"}}]}},` +
		`{"key":"servers","type":{"kind":"array","elem":{"kind":"table","fields":[{"key":"depth","type":{"kind":"uint8"}}]}}},` +
		`{"key":"limits","type":{"kind":"map","elem":{"kind":"int64"}}},` +
		`{"key":"extra","type":{"kind":"any"}},` +
		`{"key":"own","type":{"kind":"custom"}},` +
		`{"key":"tree","type":{"kind":"table","fields":[{"key":"Kids","type":{"kind":"array","elem":{"kind":"custom"}}}]}},` +
		`{"key":"Flag","type":{"kind":"bool"}}]}`
	if string(got) != want {
		t.Errorf("configSchema(Config) =\n%s\nwant\n%s", got, want)
	}
}
