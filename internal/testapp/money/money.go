// Package money declares no components. Its error crosses component
// boundaries all the same, so tests check that it keeps its identity in
// every mode.
package money

import (
	"errors"
	"fmt"
)

// ErrCurrencyMismatch is wrapped by the error of Sum when amounts are in
// different currencies.
var ErrCurrencyMismatch = errors.New("currency mismatch")

// An Amount is a sum of money in one currency.
type Amount struct {
	Currency string
	Cents    int64
}

// Sum adds amounts, which must share one currency.
func Sum(amounts []Amount) (Amount, error) {
	var total Amount
	for i, a := range amounts {
		if i > 0 && a.Currency != total.Currency {
			return Amount{}, fmt.Errorf("add %s to %s: %w", a.Currency, total.Currency, ErrCurrencyMismatch)
		}
		total.Currency = a.Currency
		total.Cents += a.Cents
	}
	return total, nil
}
