// Package catalog is the shop's product catalog component.
package catalog

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/pilotage/pilotage"
)

// Money is an amount in the smallest unit of a currency.
type Money struct {
	Currency string
	Cents    int64
}

func (m Money) String() string {
	return fmt.Sprintf("%d.%02d %s", m.Cents/100, m.Cents%100, m.Currency)
}

// Product is an item for sale.
type Product struct {
	ID          string
	Name        string
	Description string
	Price       Money
	Tags        []string
	WeightGrams int
}

// ErrNotFound is returned for an unknown product ID.
var ErrNotFound = errors.New("product not found")

// Catalog lists the products for sale.
type Catalog interface {
	List(ctx context.Context) ([]Product, error)
	Get(ctx context.Context, id string) (Product, error)
}

// Reads are safe to retry.
var (
	_ pilotage.Idempotent = Catalog.List
	_ pilotage.Idempotent = Catalog.Get
)

type config struct {
	Currency string `toml:"currency"`
}

type catalog struct {
	pilotage.Implements[Catalog]
	pilotage.WithConfig[config]
	products map[string]Product
}

func (c *catalog) Init(ctx context.Context) error {
	cur := c.Config().Currency
	if cur == "" {
		cur = "EUR"
	}
	c.products = map[string]Product{}
	for _, p := range []Product{
		{ID: "mug", Name: "Mug", Description: "A mug that holds 350 ml.", Price: Money{cur, 1200}, Tags: []string{"kitchen"}, WeightGrams: 350},
		{ID: "tee", Name: "T-shirt", Description: "Cotton, with a gopher.", Price: Money{cur, 2500}, Tags: []string{"clothing"}, WeightGrams: 200},
		{ID: "lamp", Name: "Desk lamp", Description: "Warm light, 5 W.", Price: Money{cur, 4900}, Tags: []string{"home", "office"}, WeightGrams: 1200},
		{ID: "book", Name: "The Go Programming Language", Description: "Donovan and Kernighan.", Price: Money{cur, 3990}, Tags: []string{"books"}, WeightGrams: 800},
	} {
		c.products[p.ID] = p
	}
	c.Logger(ctx).Info("catalog loaded", "products", len(c.products), "currency", cur)
	return nil
}

func (c *catalog) List(context.Context) ([]Product, error) {
	out := make([]Product, 0, len(c.products))
	for _, p := range c.products {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (c *catalog) Get(_ context.Context, id string) (Product, error) {
	p, ok := c.products[id]
	if !ok {
		return Product{}, fmt.Errorf("get %q: %w", id, ErrNotFound)
	}
	return p, nil
}
