package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
)

// Operators call the methods of the example shop's components through
// the control API: the call goes through the transport to a real replica,
// its results come back as JSON, the method's own error as the result's
// error; an unknown method, bad arguments and a stopped component are
// refused with the code that says so.
func TestCallEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds examples/shop")
	}
	t.Parallel()
	shopDir, bin, cfg := shopApp(t)
	out := &syncBuffer{}
	dir := stateDir(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := New(ctx, Options{App: "shop", Binary: bin, Dir: shopDir, Config: cfg, ConfigPath: filepath.Join(shopDir, "pilotage.toml"),
		StateDir: dir, Stdout: out, StopTimeout: 3 * time.Second, KillTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if t.Failed() {
			t.Logf("output:\n%s", out.String())
		}
	}()
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatalf("Run returned: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("the shop was not ready within 60s")
	}

	cl := control.Dial(dir)
	defer cl.Close()
	const catalog = "/apps/shop/components/catalog.Catalog"
	const cart = "/apps/shop/components/cart.Cart"
	call := func(path, method, args string) (*api.CallResult, error) {
		t.Helper()
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return cl.Call(cctx, path, method, []byte(args))
	}

	// The component's status lists its methods.
	r, err := cl.Get(ctx, catalog)
	if err != nil {
		t.Fatal(err)
	}
	var cs api.ComponentStatus
	if err := r.DecodeStatus(&cs); err != nil {
		t.Fatal(err)
	}
	wantMethods := []api.Method{
		{Name: "Get", Params: []api.Param{{Name: "id", Type: "string"}}, Results: []string{"Product"}},
		{Name: "List", Params: []api.Param{}, Results: []string{"[]Product"}},
	}
	if !reflect.DeepEqual(cs.Methods, wantMethods) {
		t.Errorf("catalog's methods = %+v, want %+v", cs.Methods, wantMethods)
	}

	// List, on either replica in turn.
	type product struct {
		ID    string
		Price struct {
			Currency string
			Cents    int64
		}
	}
	replicas := map[string]bool{}
	for range 4 {
		res, err := call(catalog, "List", "")
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		var ps []product
		if err := json.Unmarshal(res.Result, &ps); err != nil || len(ps) != 4 || ps[0].ID != "book" || ps[2].ID != "mug" || ps[2].Price.Cents != 1200 {
			t.Fatalf("List = %s (%v), want the four products sorted by ID", res.Result, err)
		}
		if res.Component != "github.com/pilotage/pilotage/examples/shop/catalog.Catalog" || res.Method != "List" || res.Error != "" {
			t.Errorf("List = %+v", res)
		}
		replicas[res.Replica] = true
	}
	if !replicas["catalog.Catalog/0"] || !replicas["catalog.Catalog/1"] || len(replicas) != 2 {
		t.Errorf("List was served by %v, want both catalog.Catalog/0 and catalog.Catalog/1", replicas)
	}

	// Get, by name and in order; on the replica a path names.
	for _, args := range []string{`{"id": "mug"}`, `["mug"]`} {
		res, err := call(catalog+"/replicas/1", "Get", args)
		var p product
		if err != nil || json.Unmarshal(res.Result, &p) != nil || p.ID != "mug" || p.Price.Currency != "EUR" || res.Replica != "catalog.Catalog/1" {
			t.Errorf("Get(%s) = %+v, %v; want the mug, from catalog.Catalog/1", args, res, err)
		}
	}

	// The method's error is the result's.
	res, err := call(catalog, "Get", `{"id": "nope"}`)
	if err != nil || res.Error != `get "nope": product not found` {
		t.Errorf("Get(nope) = %+v, %v; want the method's error", res, err)
	}

	// A struct parameter, then its effect.
	if res, err := call(cart, "Add", `{"user": "alice", "item": {"ProductID": "mug", "Quantity": 2}}`); err != nil || res.Error != "" || string(res.Result) != "null" || res.Replica != "cart.Cart/0" {
		t.Errorf("Add = %+v, %v", res, err)
	}
	if res, err := call(cart, "Items", `{"user": "alice"}`); err != nil || string(res.Result) != `[{"ProductID":"mug","Quantity":2}]` {
		t.Errorf("Items = %+v, %v", res, err)
	}

	// Refusals.
	for _, tc := range []struct {
		path, method, args string
		code               error
		want               string
	}{
		{catalog, "Delete", `{}`, api.ErrBadRequest, `component catalog.Catalog has no method "Delete" (its methods: Get, List)`},
		{catalog, "Get", `{"id": 3}`, api.ErrBadRequest, `call catalog.Catalog.Get: parameter "id": json: cannot unmarshal number`},
		{catalog, "Get", `{"ID": "mug"}`, api.ErrBadRequest, `call catalog.Catalog.Get: no parameter "ID" (it takes id)`},
		{catalog, "Get", `{"id": `, api.ErrBadRequest, `call catalog.Catalog.Get: arguments: unexpected end of JSON input`},
		{cart, "Add", `{"user": "alice", "item": {"ProductID": "mug", "Qty": 2}}`, api.ErrBadRequest, `parameter "item": json: unknown field "Qty"`},
		{"/apps/shop/components/pilotage.Main", "Run", ``, api.ErrBadRequest, `component pilotage.Main has no method "Run" (the main component has none)`},
		{"/apps/shop/groups/catalog.Catalog", "List", ``, api.ErrBadRequest, "is not a component"},
		{"/apps/shop/components/nothing.Nothing", "List", ``, api.ErrNotFound, "no resource at /apps/shop/components/nothing.Nothing"},
	} {
		res, err := call(tc.path, tc.method, tc.args)
		if !errors.Is(err, tc.code) || !strings.Contains(errString(err), tc.want) {
			t.Errorf("call %s %s %s = %+v, %v; want %v saying %q", tc.path, tc.method, tc.args, res, err, tc.code, tc.want)
		}
	}

	// A stopped component has no replica to call; a caller of it sees
	// its method fail.
	if res, err := cl.Stop(ctx, "catalog.Catalog"); err != nil || res.State != control.Stopped {
		t.Fatalf("stop catalog: %+v, %v", res, err)
	}
	res, err = call(catalog, "List", "")
	if !errors.Is(err, api.ErrUnavailable) || errString(err) != "component catalog.Catalog has no ready replica: stopped" {
		t.Errorf("List with the catalog stopped = %+v, %v; want unavailable", res, err)
	}
	res, err = call(cart, "Add", `{"user": "bob", "item": {"ProductID": "mug", "Quantity": 1}}`)
	if err != nil || !strings.HasPrefix(res.Error, "add to cart: ") {
		t.Errorf("Add with the catalog stopped = %+v, %v; want the method's error", res, err)
	}
	if res, err := cl.Start(ctx, "catalog.Catalog"); err != nil || res.State != control.Ready {
		t.Fatalf("start catalog: %+v, %v", res, err)
	}
	// New processes, new connections.
	if res, err := call(catalog, "Get", `{"id": "tee"}`); err != nil || !strings.Contains(string(res.Result), `"ID":"tee"`) {
		t.Errorf("Get(tee) after a restart = %+v, %v", res, err)
	}
}
