// Command shop is an online shop built from six pilotage components:
//
//	frontend (main, HTTP listener "shop")
//	├── catalog.Catalog
//	├── cart.Cart ──────────── catalog.Catalog
//	└── checkout.Checkout
//	    ├── cart.Cart
//	    ├── catalog.Catalog
//	    ├── shipping.Shipping
//	    └── payment.Payment (implemented in payment/cardpay)
//
// Run it in one process with "go run .", or as processes with "pilotage run".
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/pilotage/pilotage"
	"github.com/pilotage/pilotage/examples/shop/cart"
	"github.com/pilotage/pilotage/examples/shop/catalog"
	"github.com/pilotage/pilotage/examples/shop/checkout"
)

func main() {
	if err := pilotage.Run(context.Background(), serve); err != nil {
		fmt.Fprintln(os.Stderr, "shop:", err)
		os.Exit(1)
	}
}

// frontend is the main component: it serves the shop's HTTP API.
type frontend struct {
	pilotage.Implements[pilotage.Main]
	shop     pilotage.Listener
	catalog  pilotage.Ref[catalog.Catalog]
	cart     pilotage.Ref[cart.Cart]
	checkout pilotage.Ref[checkout.Checkout]
}

func serve(ctx context.Context, f *frontend) error {
	srv := &http.Server{Handler: f.routes(), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(f.shop) }()
	f.Logger(ctx).Info("shop is open")
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}
