// Package checkout turns a cart into a paid order.
package checkout

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

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
	// orders counts the orders paid: a metric of the shop's own, made
	// with the standard OpenTelemetry API (Init).
	orders metric.Int64Counter
}

// scope names the checkout's own spans and instruments.
const scope = "github.com/pilotage/pilotage/examples/shop/checkout"

// Init makes the checkout's instruments. Under pilotage run, and on
// Kubernetes, they are served with the runtime's metrics: orders as
// shop_orders_total{currency="EUR",replica="checkout.Checkout/0"}.
func (c *checkout) Init(context.Context) error {
	var err error
	c.orders, err = otel.Meter(scope).Int64Counter("shop.orders", metric.WithDescription("Orders paid, by currency."))
	return err
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
	grams, err := c.price(ctx, items, &order)
	if err != nil {
		return Order{}, fmt.Errorf("place order: %w", err)
	}
	if order.Shipping, err = c.shipping.Get().Quote(ctx, grams, order.Subtotal.Currency); err != nil {
		return Order{}, fmt.Errorf("place order: %w", err)
	}
	order.Total = catalog.Money{Currency: order.Subtotal.Currency, Cents: order.Subtotal.Cents + order.Shipping.Cents}
	if order.Receipt, err = c.payment.Get().Charge(ctx, order.Total, card); err != nil {
		return Order{}, fmt.Errorf("place order: %w", err)
	}
	c.orders.Add(ctx, 1, metric.WithAttributes(attribute.String("currency", order.Total.Currency)))
	if err := c.cart.Get().Clear(ctx, user); err != nil {
		c.Logger(ctx).Error("order paid but cart not cleared", "order", order.ID, "err", err)
	}
	c.Logger(ctx).Info("order placed", "order", order.ID, "user", user, "total", order.Total.String())
	return order, nil
}

// price adds the lines of items to order, at the catalog's prices, and
// returns their weight. It is a span of its own, made with the standard
// OpenTelemetry API: under pilotage run it joins the request's trace,
// between PlaceOrder and the catalog calls made here.
func (c *checkout) price(ctx context.Context, items []cart.Item, order *Order) (grams int, err error) {
	ctx, span := otel.Tracer(scope).Start(ctx, "price the cart", trace.WithAttributes(attribute.Int("items", len(items))))
	defer span.End()
	for _, it := range items {
		p, err := c.catalog.Get().Get(ctx, it.ProductID)
		if err != nil {
			return 0, err
		}
		order.Lines = append(order.Lines, Line{Product: p, Quantity: it.Quantity})
		order.Subtotal.Currency = p.Price.Currency
		order.Subtotal.Cents += p.Price.Cents * int64(it.Quantity)
		grams += p.WeightGrams * it.Quantity
	}
	return grams, nil
}
