// Package cardpay implements payment.Payment with a pretend card processor.
package cardpay

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pilotage/pilotage"
	"github.com/pilotage/pilotage/examples/shop/catalog"
	"github.com/pilotage/pilotage/examples/shop/payment"
)

type processor struct {
	pilotage.Implements[payment.Payment]
	next atomic.Int64
}

// Charge accepts any card whose number does not start with "4000" (the
// test prefix for a declined card) and that has not expired.
func (p *processor) Charge(ctx context.Context, amount catalog.Money, card payment.Card) (payment.Receipt, error) {
	now := time.Now()
	if card.ExpiryYear < now.Year() || card.ExpiryYear == now.Year() && card.ExpiryMonth < int(now.Month()) {
		return payment.Receipt{}, fmt.Errorf("charge %s: %w", amount, payment.ErrExpired)
	}
	if strings.HasPrefix(card.Number, "4000") {
		return payment.Receipt{}, fmt.Errorf("charge %s: %w", amount, payment.ErrDeclined)
	}
	id := fmt.Sprintf("tx-%06d", p.next.Add(1))
	p.Logger(ctx).Info("charged", "amount", amount.String(), "transaction", id)
	return payment.Receipt{TransactionID: id, Amount: amount, At: now}, nil
}
