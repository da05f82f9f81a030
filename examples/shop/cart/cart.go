// Package cart is the shop's shopping-cart component.
package cart

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/pilotage/pilotage"
	"github.com/pilotage/pilotage/examples/shop/catalog"
)

// Item is a product and a quantity in a cart.
type Item struct {
	ProductID string
	Quantity  int
}

// ErrBadQuantity is returned when adding less than one item.
var ErrBadQuantity = errors.New("quantity must be at least 1")

// Cart holds each user's cart.
type Cart interface {
	Add(ctx context.Context, user string, item Item) error
	Items(ctx context.Context, user string) ([]Item, error)
	Clear(ctx context.Context, user string) error
}

var (
	_ pilotage.Idempotent = Cart.Items
	_ pilotage.Idempotent = Cart.Clear
)

type cart struct {
	pilotage.Implements[Cart]
	catalog pilotage.Ref[catalog.Catalog]

	mu    sync.Mutex
	carts map[string][]Item
}

func (c *cart) Init(context.Context) error {
	c.carts = map[string][]Item{}
	return nil
}

func (c *cart) Add(ctx context.Context, user string, item Item) error {
	if item.Quantity < 1 {
		return ErrBadQuantity
	}
	if _, err := c.catalog.Get().Get(ctx, item.ProductID); err != nil {
		return fmt.Errorf("add to cart: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, it := range c.carts[user] {
		if it.ProductID == item.ProductID {
			c.carts[user][i].Quantity += item.Quantity
			return nil
		}
	}
	c.carts[user] = append(c.carts[user], item)
	return nil
}

func (c *cart) Items(_ context.Context, user string) ([]Item, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Item(nil), c.carts[user]...), nil
}

func (c *cart) Clear(_ context.Context, user string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.carts, user)
	return nil
}
