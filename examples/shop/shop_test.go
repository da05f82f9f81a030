package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pilotage/pilotage/examples/shop/cart"
	"github.com/pilotage/pilotage/examples/shop/catalog"
	"github.com/pilotage/pilotage/examples/shop/checkout"
	"github.com/pilotage/pilotage/examples/shop/payment"
	"github.com/pilotage/pilotage/pilotagetest"
)

var goodCard = payment.Card{Number: "4242424242424242", ExpiryMonth: 12, ExpiryYear: time.Now().Year() + 2}

func TestPlaceOrder(t *testing.T) {
	ctx := context.Background()
	for _, r := range pilotagetest.AllRunners() {
		r.Test(t, func(t *testing.T, c cart.Cart, co checkout.Checkout) {
			if err := c.Add(ctx, "alice", cart.Item{ProductID: "mug", Quantity: 2}); err != nil {
				t.Fatal(err)
			}
			if err := c.Add(ctx, "alice", cart.Item{ProductID: "lamp", Quantity: 1}); err != nil {
				t.Fatal(err)
			}
			order, err := co.PlaceOrder(ctx, "alice", goodCard)
			if err != nil {
				t.Fatal(err)
			}
			// 2 × 12.00 + 49.00, and 1.9 kg ships for 4.90 + 2.00.
			if want := (catalog.Money{Currency: "EUR", Cents: 7300 + 690}); order.Total != want {
				t.Errorf("total = %v, want %v", order.Total, want)
			}
			if len(order.Lines) != 2 || order.Receipt.TransactionID == "" || order.Receipt.At.IsZero() {
				t.Errorf("incomplete order: %+v", order)
			}
			if items, err := c.Items(ctx, "alice"); err != nil || len(items) != 0 {
				t.Errorf("cart after checkout = %v, %v; want empty", items, err)
			}
		})
	}
}

func TestErrorsCrossComponents(t *testing.T) {
	ctx := context.Background()
	for _, r := range pilotagetest.AllRunners() {
		r.Test(t, func(t *testing.T, c cart.Cart, co checkout.Checkout) {
			if err := c.Add(ctx, "bob", cart.Item{ProductID: "nope", Quantity: 1}); !errors.Is(err, catalog.ErrNotFound) {
				t.Errorf("Add(unknown product) = %v; want catalog.ErrNotFound", err)
			}
			if err := c.Add(ctx, "bob", cart.Item{ProductID: "mug", Quantity: 0}); err != cart.ErrBadQuantity {
				t.Errorf("Add(quantity 0) = %v; want exactly cart.ErrBadQuantity", err)
			}
			if _, err := co.PlaceOrder(ctx, "bob", goodCard); !errors.Is(err, checkout.ErrEmptyCart) {
				t.Errorf("PlaceOrder(empty cart) = %v; want checkout.ErrEmptyCart", err)
			}
			if err := c.Add(ctx, "bob", cart.Item{ProductID: "tee", Quantity: 1}); err != nil {
				t.Fatal(err)
			}
			declined := payment.Card{Number: "4000000000000002", ExpiryMonth: 1, ExpiryYear: time.Now().Year() + 1}
			_, err := co.PlaceOrder(ctx, "bob", declined)
			if !errors.Is(err, payment.ErrDeclined) || !strings.Contains(err.Error(), "card declined") {
				t.Errorf("PlaceOrder(declined card) = %v; want payment.ErrDeclined", err)
			}
		})
	}
}

// fakePayment records charges instead of making them.
type fakePayment struct{ charged []catalog.Money }

func (f *fakePayment) Charge(_ context.Context, amount catalog.Money, _ payment.Card) (payment.Receipt, error) {
	f.charged = append(f.charged, amount)
	return payment.Receipt{TransactionID: "fake"}, nil
}

func TestFakePayment(t *testing.T) {
	ctx := context.Background()
	for _, r := range pilotagetest.AllRunners() {
		fake := &fakePayment{}
		r.Fakes = []pilotagetest.FakeComponent{pilotagetest.Fake[payment.Payment](fake)}
		r.Test(t, func(t *testing.T, c cart.Cart, co checkout.Checkout) {
			if err := c.Add(ctx, "carol", cart.Item{ProductID: "book", Quantity: 1}); err != nil {
				t.Fatal(err)
			}
			order, err := co.PlaceOrder(ctx, "carol", payment.Card{}) // an expired card: only the fake accepts it
			if err != nil {
				t.Fatal(err)
			}
			if order.Receipt.TransactionID != "fake" || len(fake.charged) != 1 || fake.charged[0] != order.Total {
				t.Errorf("fake saw %v for order %+v", fake.charged, order)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	for _, r := range pilotagetest.AllRunners() {
		r.Config = "[components.\"catalog.Catalog\"]\ncurrency = \"JPY\"\n"
		r.Test(t, func(t *testing.T, c catalog.Catalog) {
			p, err := c.Get(context.Background(), "mug")
			if err != nil || p.Price.Currency != "JPY" {
				t.Errorf("Get(mug) = %+v, %v; want a price in JPY", p, err)
			}
		})
	}
}

func TestHTTP(t *testing.T) {
	for _, r := range pilotagetest.AllRunners() {
		r.Test(t, func(t *testing.T, f *frontend) {
			srv := httptest.NewServer(f.routes())
			defer srv.Close()
			post := func(path, body string) *http.Response {
				t.Helper()
				resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp
			}
			if resp := post("/api/cart/dave", `{"ProductID":"mug","Quantity":1}`); resp.StatusCode != http.StatusOK {
				t.Errorf("add to cart: %s", resp.Status)
			}
			if resp := post("/api/cart/dave", `{"ProductID":"ghost","Quantity":1}`); resp.StatusCode != http.StatusNotFound {
				t.Errorf("add unknown product: %s, want 404", resp.Status)
			}
			if resp := post("/api/checkout/dave", `{"Number":"4000","ExpiryMonth":1,"ExpiryYear":2999}`); resp.StatusCode != http.StatusPaymentRequired {
				t.Errorf("declined checkout: %s, want 402", resp.Status)
			}
			resp, err := http.Get(srv.URL + "/")
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("index: %v %v", resp, err)
			}
			resp.Body.Close()
		})
	}
}
