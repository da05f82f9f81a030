package config

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	f, err := Parse("p.toml", `
[app]
name = "shop"
[listeners.shop]
address = "127.0.0.1:8080"
[run]
replicas = 3
colocate = [["a.A", "b.B"]]
start_interval = "10s"
[run.components."a.A"]
restart_dependents = true
[units.redis]
command = "redis-server"
required_by = ["a.A"]
[units.redis.ready]
tcp = "127.0.0.1:6390"
[components."cart.Cart"]
size = 3
`)
	if err != nil {
		t.Fatal(err)
	}
	if f.App.Name != "shop" || f.Listeners["shop"].Address != "127.0.0.1:8080" || f.Run.Replicas != 3 ||
		f.Run.StartInterval.Duration != 10*time.Second || !f.Run.Components["a.A"].RestartDependents ||
		f.Units["redis"].Ready.TCP != "127.0.0.1:6390" {
		t.Errorf("parsed %+v", f)
	}
	var c struct{ Size int }
	if err := f.DecodeComponent("example.com/shop/cart.Cart", &c); err != nil || c.Size != 3 {
		t.Errorf("DecodeComponent = %+v, %v", c, err)
	}
	if err := f.CheckComponents([]string{"example.com/shop/cart.Cart"}); err != nil {
		t.Error(err)
	}
	if err := f.CheckComponents([]string{"example.com/shop/catalog.Catalog"}); err == nil || !strings.Contains(err.Error(), `"cart.Cart"`) {
		t.Errorf("CheckComponents with a misspelt section = %v", err)
	}
}

func TestStrict(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"[app]\nnmae = \"x\"\n", `unknown key "app.nmae"`},
		{"[run]\nreplica = 2\n", `unknown key "run.replica"`},
		{"[listners.x]\naddress = \"\"\n", `unknown key "listners`},
		{"[run]\nstart_interval = \"soon\"\n", `bad duration "soon"`},
	} {
		_, err := Parse("p.toml", tc.text)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "p.toml") {
			t.Errorf("Parse(%q) = %v; want error containing %q and the file name", tc.text, err, tc.want)
		}
	}
	f, err := Parse("p.toml", "[components.\"cart.Cart\"]\nsize = 3\ncolour = \"red\"\n")
	if err != nil {
		t.Fatal(err)
	}
	var c struct{ Size int }
	if err := f.DecodeComponent("x/cart.Cart", &c); err == nil || !strings.Contains(err.Error(), "colour") {
		t.Errorf("DecodeComponent with unknown key = %v", err)
	}
}
