package appfs

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// buildShop builds examples/shop into dir.
func buildShop(t *testing.T, dir string) string {
	t.Helper()
	src, err := filepath.Abs("../../../../../examples/shop")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "shop")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = src
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the shop: %v\n%s", err, out)
	}
	return bin
}

// The example shop, built and run: its methods as the tree lists them,
// its configuration, a call of each kind.
func TestShopEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds examples/shop")
	}
	bin := buildShop(t, t.TempDir())
	cfg, err := os.ReadFile("../../../../../examples/shop/pilotage.toml")
	if err != nil {
		t.Fatal(err)
	}
	config := strings.Replace(string(cfg), `address = "127.0.0.1:8080"`, `address = "127.0.0.1:0"`, 1)
	a := startApp(t, appSpec{name: "shop", binary: bin, config: config})
	f := newFS(t, a.root)
	const catalog = "/apps/shop/components/catalog.Catalog"
	methods := mustList(t, f, catalog+"/methods")
	var sigs []string
	for _, m := range methods {
		sigs = append(sigs, m.Info)
	}
	if want := []string{"Get(ctx, id string) (Product, error)", "List(ctx) ([]Product, error)"}; !slices.Equal(sigs, want) {
		t.Errorf("ls -l methods: %v, want %v", sigs, want)
	}
	var cfgValue map[string]any
	decode(t, mustRead(t, f, catalog+"/config", tree.ReadOptions{}).Value, &cfgValue)
	if cfgValue["currency"] != "EUR" || len(cfgValue) != 1 {
		t.Errorf("cat config = %v", cfgValue)
	}

	res, err := f.Call(testContext(t), catalog, "List", json.RawMessage(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	var products []struct{ ID string }
	if err := json.Unmarshal(res, &products); err != nil || len(products) != 4 || products[0].ID != "book" {
		t.Errorf("call List = %s (%v)", res, err)
	}
	res, err = f.Call(testContext(t), catalog, "Get", json.RawMessage(`{"id": "mug"}`))
	if err != nil || !strings.Contains(string(res), `"mug"`) {
		t.Errorf("call Get mug = %s, %v", res, err)
	}
	_, err = f.Call(testContext(t), catalog, "Get", json.RawMessage(`{"id": "nope"}`))
	var ce *CallError
	if !errors.As(err, &ce) || !strings.Contains(ce.Message, `get "nope"`) || !strings.HasPrefix(ce.Replica, "catalog.Catalog/") {
		t.Errorf("call Get nope = %v, want the method's error", err)
	}
	if _, err := f.Call(testContext(t), catalog, "Get", json.RawMessage(`{"id": 7}`)); !errors.Is(err, tree.ErrInvalid) {
		t.Errorf("call Get with bad arguments = %v, want ErrInvalid", err)
	}
}
