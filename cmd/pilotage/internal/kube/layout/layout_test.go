package layout

import (
	"strings"
	"testing"
)

func TestName(t *testing.T) {
	for _, tc := range []struct {
		parts []string
		want  string
	}{
		{[]string{"shop", "v1", "cart.Cart"}, "shop-v1-cart-cart"},
		{[]string{"shop", "ab12", "catalog.Catalog+payment.Payment"}, "shop-ab12-catalog-catalog-payment-payment"},
		{[]string{"9lives", "main"}, "p9lives-main"},
		{[]string{"shop", "example.com/x/cart.Cart"}, "shop-example-com-x-cart-cart"},
	} {
		if got := Name(tc.parts...); got != tc.want {
			t.Errorf("Name(%q) = %q, want %q", tc.parts, got, tc.want)
		}
	}
	long1 := Name("shop", "v1", strings.Repeat("a", 80)+"x")
	long2 := Name("shop", "v1", strings.Repeat("a", 80)+"y")
	if len(long1) > 63 || long1 == long2 {
		t.Errorf("long names %q and %q: want distinct names of at most 63 characters", long1, long2)
	}
}

func TestSettingsRoundTrip(t *testing.T) {
	s := Settings{App: "shop", Version: "v1", Group: "cart.Cart", Components: []string{"x/cart.Cart"}, Services: map[string]string{"x/cart.Cart": "shop-v1-cart-cart"}}
	t.Setenv(SettingsEnv, s.Encode())
	got, err := ReadSettings()
	if err != nil || got.Group != s.Group || got.Services["x/cart.Cart"] != "shop-v1-cart-cart" {
		t.Fatalf("ReadSettings() = %+v, %v", got, err)
	}
	t.Setenv(SettingsEnv, `{"app":"shop"}`)
	if _, err := ReadSettings(); err == nil {
		t.Fatal("ReadSettings accepted settings without a version, group or components")
	}
}
