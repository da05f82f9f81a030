package config

import (
	"strings"
	"testing"
	"time"
)

func TestCalls(t *testing.T) {
	f, err := Parse("p.toml", `
[calls]
timeout = "20s"
max_in_flight = 50
[calls.components."cat.Catalog"]
timeout = "5s"
max_in_flight = -1
methods = { List = "10s" }
[calls.components."example.com/cart.Cart"]
methods = { Add = "1s" }
`)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		comp, method string
		want         time.Duration
	}{
		{"example.com/cat.Catalog", "List", 10 * time.Second},
		{"example.com/cat.Catalog", "Get", 5 * time.Second},
		{"example.com/cart.Cart", "Add", time.Second},
		{"example.com/cart.Cart", "Items", 20 * time.Second},
		{"example.com/other.Other", "X", 20 * time.Second},
	} {
		if got := f.CallTimeout(c.comp, c.method); got != c.want {
			t.Errorf("CallTimeout(%s, %s) = %v, want %v", c.comp, c.method, got, c.want)
		}
	}
	if got := Empty().CallTimeout("a/b.B", "M"); got != DefaultCallTimeout {
		t.Errorf("default timeout %v", got)
	}
	if f.MaxInFlight("example.com/cat.Catalog") != -1 || f.MaxInFlight("example.com/cart.Cart") != 50 || Empty().MaxInFlight("a/b.B") != 0 {
		t.Error("MaxInFlight does not apply the component's, then [calls]'")
	}
	known := []string{"example.com/cat.Catalog", "example.com/cart.Cart"}
	if err := f.CheckComponents(known); err != nil {
		t.Errorf("CheckComponents: %v", err)
	}
	if err := f.CheckComponents(known[:1]); err == nil || !strings.Contains(err.Error(), `[calls.components."example.com/cart.Cart"] names no component`) {
		t.Errorf("CheckComponents with cart unknown: %v", err)
	}
	err = f.CheckCallMethods(map[string][]string{"example.com/cat.Catalog": {"Get", "List"}, "example.com/cart.Cart": {"Items"}})
	if err == nil || !strings.Contains(err.Error(), "has no method Add") || strings.Contains(err.Error(), "List") && strings.Contains(err.Error(), "no method List") {
		t.Errorf("CheckCallMethods: %v", err)
	}
}

func TestCallsInvalid(t *testing.T) {
	_, err := Parse("p.toml", `
[calls]
timeout = "-1s"
max_in_flight = -2
retry_ratio = 1.5
retry_floor = 0
eject_after = 0
[calls.components."a.A"]
methods = { M = "0s" }
`)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"timeout", "max_in_flight = -2", "retry_ratio = 1.5", "retry_floor = 0", "eject_after = 0", "methods.M"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}
