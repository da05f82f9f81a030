package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"

	"github.com/pilotage/pilotage"
	"github.com/pilotage/pilotage/examples/shop/cart"
	"github.com/pilotage/pilotage/examples/shop/catalog"
	"github.com/pilotage/pilotage/examples/shop/checkout"
	"github.com/pilotage/pilotage/examples/shop/payment"
)

// routes is the shop's HTTP API:
//
//	GET  /                        product list (HTML)
//	GET  /api/products            product list (JSON)
//	POST /api/cart/{user}         add {"ProductID": "mug", "Quantity": 2}
//	GET  /api/cart/{user}         cart contents
//	POST /api/checkout/{user}     pay {"Number": "...", "ExpiryMonth": 1, "ExpiryYear": 2030}
func (f *frontend) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", f.index)
	mux.HandleFunc("GET /api/products", func(w http.ResponseWriter, r *http.Request) {
		products, err := f.catalog.Get().List(r.Context())
		reply(w, products, err)
	})
	mux.HandleFunc("POST /api/cart/{user}", func(w http.ResponseWriter, r *http.Request) {
		var item cart.Item
		if err := json.NewDecoder(r.Body).Decode(&item); err != nil {
			reply(w, nil, fmt.Errorf("%w: %v", errBadRequest, err))
			return
		}
		err := f.cart.Get().Add(r.Context(), r.PathValue("user"), item)
		reply(w, map[string]string{"status": "added"}, err)
	})
	mux.HandleFunc("GET /api/cart/{user}", func(w http.ResponseWriter, r *http.Request) {
		items, err := f.cart.Get().Items(r.Context(), r.PathValue("user"))
		reply(w, items, err)
	})
	mux.HandleFunc("POST /api/checkout/{user}", func(w http.ResponseWriter, r *http.Request) {
		var card payment.Card
		if err := json.NewDecoder(r.Body).Decode(&card); err != nil {
			reply(w, nil, fmt.Errorf("%w: %v", errBadRequest, err))
			return
		}
		order, err := f.checkout.Get().PlaceOrder(r.Context(), r.PathValue("user"), card)
		reply(w, order, err)
	})
	return mux
}

var errBadRequest = errors.New("bad request")

// reply writes v as JSON, or err with a status that says whose fault it is.
func reply(w http.ResponseWriter, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		status := http.StatusInternalServerError
		switch {
		case errors.Is(err, errBadRequest), errors.Is(err, cart.ErrBadQuantity), errors.Is(err, checkout.ErrEmptyCart):
			status = http.StatusBadRequest
		case errors.Is(err, catalog.ErrNotFound):
			status = http.StatusNotFound
		case errors.Is(err, payment.ErrDeclined), errors.Is(err, payment.ErrExpired):
			status = http.StatusPaymentRequired
		case errors.Is(err, pilotage.ErrUnavailable):
			status = http.StatusServiceUnavailable
		}
		w.WriteHeader(status)
		v = map[string]string{"error": err.Error()}
	}
	json.NewEncoder(w).Encode(v)
}

var indexPage = template.Must(template.New("index").Parse(`<!doctype html>
<html><head><meta name="viewport" content="width=device-width"><title>pilotage shop</title></head>
<body><h1>pilotage shop</h1><ul>
{{range .}}<li><b>{{.Name}}</b>: {{.Description}} <i>{{.Price}}</i></li>
{{end}}</ul>
<p>API: <code>GET /api/products</code>, <code>POST /api/cart/{user}</code>,
<code>GET /api/cart/{user}</code>, <code>POST /api/checkout/{user}</code>.</p></body></html>
`))

func (f *frontend) index(w http.ResponseWriter, r *http.Request) {
	products, err := f.catalog.Get().List(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := indexPage.Execute(w, products); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}
