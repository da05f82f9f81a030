// Package payment declares the payment component. Its implementation lives in
// package cardpay: a component's interface and implementation need not share
// a package.
package payment

import (
	"context"
	"errors"
	"time"

	"github.com/pilotage/pilotage/examples/shop/catalog"
)

// Card is a payment card.
type Card struct {
	Number      string
	ExpiryMonth int
	ExpiryYear  int
}

// Receipt records a successful charge.
type Receipt struct {
	TransactionID string
	Amount        catalog.Money
	At            time.Time
}

var (
	// ErrDeclined is returned when the card is refused.
	ErrDeclined = errors.New("card declined")
	// ErrExpired is returned for a card past its expiry date.
	ErrExpired = errors.New("card expired")
)

// Payment charges cards.
type Payment interface {
	Charge(ctx context.Context, amount catalog.Money, card Card) (Receipt, error)
}
