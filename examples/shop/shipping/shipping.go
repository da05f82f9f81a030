// Package shipping quotes shipping costs.
package shipping

import (
	"context"

	"github.com/pilotage/pilotage"
	"github.com/pilotage/pilotage/examples/shop/catalog"
)

// Shipping prices the delivery of a parcel.
type Shipping interface {
	Quote(ctx context.Context, weightGrams int, currency string) (catalog.Money, error)
}

var _ pilotage.Idempotent = Shipping.Quote

type shipping struct {
	pilotage.Implements[Shipping]
}

// Quote charges 4.90 up to 1 kg and 2.00 for every further started kilogram.
func (*shipping) Quote(_ context.Context, grams int, currency string) (catalog.Money, error) {
	cents := int64(490)
	if grams > 1000 {
		cents += int64((grams-1000+999)/1000) * 200
	}
	return catalog.Money{Currency: currency, Cents: cents}, nil
}
