// Package checkout turns a cart into a paid order.
package checkout

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/pilotage/pilotage"
	"github.com/pilotage/pilotage/examples/shop/cart"
	"github.com/pilotage/pilotage/examples/shop/catalog"
	"github.com/pilotage/pilotage/examples/shop/payment"
	"github.com/pilotage/pilotage/examples/shop/shipping"
)

// Line is one product of an order.
type Line struct {
	Product  catalog.Product
	Quantity int
}

// Order is a paid order.
type Order struct {
	ID       string
	User     string
	Lines    []Line
	Subtotal catalog.Money
	Shipping catalog.Money
	Total    catalog.Money
	Receipt  payment.Receipt
}

// ErrEmptyCart is returned when checking out an empty cart.
var ErrEmptyCart = errors.New("cart is empty")

// Checkout places orders.
type Checkout interface {
	PlaceOrder(ctx context.Context, user string, card payment.Card) (Order, error)
}

type checkout struct {
	pilotage.Implements[Checkout]
	cart     pilotage.Ref[cart.Cart]
	catalog  pilotage.Ref[catalog.Catalog]
	shipping pilotage.Ref[shipping.Shipping]
	payment  pilotage.Ref[payment.Payment]

	next atomic.Int64
}

func (c *checkout) PlaceOrder(ctx context.Context, user string, card payment.Card) (Order, error) {
	items, err := c.cart.Get().Items(ctx, user)
	if err != nil {
		return Order{}, fmt.Errorf("place order: %w", err)
	}
	if len(items) == 0 {
		return Order{}, ErrEmptyCart
	}
	order := Order{ID: fmt.Sprintf("order-%d", c.next.Add(1)), User: user}
	grams := 0
	for _, it := range items {
		p, err := c.catalog.Get().Get(ctx, it.ProductID)
		if err != nil {
			return Order{}, fmt.Errorf("place order: %w", err)
		}
		order.Lines = append(order.Lines, Line{Product: p, Quantity: it.Quantity})
		order.Subtotal.Currency = p.Price.Currency
		order.Subtotal.Cents += p.Price.Cents * int64(it.Quantity)
		grams += p.WeightGrams * it.Quantity
	}
	if order.Shipping, err = c.shipping.Get().Quote(ctx, grams, order.Subtotal.Currency); err != nil {
		return Order{}, fmt.Errorf("place order: %w", err)
	}
	order.Total = catalog.Money{Currency: order.Subtotal.Currency, Cents: order.Subtotal.Cents + order.Shipping.Cents}
	if order.Receipt, err = c.payment.Get().Charge(ctx, order.Total, card); err != nil {
		return Order{}, fmt.Errorf("place order: %w", err)
	}
	if err := c.cart.Get().Clear(ctx, user); err != nil {
		c.Logger(ctx).Error("order paid but cart not cleared", "order", order.ID, "err", err)
	}
	c.Logger(ctx).Info("order placed", "order", order.ID, "user", user, "total", order.Total.String())
	return order, nil
}
