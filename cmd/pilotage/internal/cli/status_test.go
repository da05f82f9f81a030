package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
)

func TestPrintStatus(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	st := &control.Status{
		App: "shop", PID: 42, Deployment: "shop-0123456789ab", Now: now, Started: now.Add(-90 * time.Second), ReadyAt: now.Add(-89 * time.Second),
		Problems:     []string{"12:00:00 the state directory was removed"},
		Coordination: &api.CoordinationStatus{Embedded: true, Endpoints: []string{"unix:///state/etcd/etcd.sock"}, Prefix: "/pilotage/shop/"},
		Proxies: []control.Proxy{{Listener: "shop", Address: "127.0.0.1:8080", Backends: []string{"a", "b"}, Connections: 3, MaxConnections: 1024, Refused: 5},
			{Listener: "admin", Address: "127.0.0.1:8081", MaxConnections: 1024, Outage: "stopped", AcceptError: "accept: too many open files", AcceptErrorAt: now.Add(-2 * time.Second)}},
		Units: []control.UnitStatus{
			{Name: "redis", Kind: "unit", Group: "redis", State: control.Starting, Want: 1, Why: "probe tcp 127.0.0.1:6390: connection refused", Addresses: []string{"127.0.0.1:6390"},
				Replicas: []control.ReplicaStatus{{Index: 0, PID: 7, State: control.Starting, Started: now.Add(-5 * time.Second)}}},
			{Name: "cart.Cart", Kind: "component", Group: "cart.Cart", State: control.Ready, Want: 2, Restarts: 1, StartedAt: now.Add(-61 * time.Second), ReadyAt: now.Add(-60 * time.Second),
				Replicas: []control.ReplicaStatus{{Index: 0, PID: 9, State: control.Ready, RPCAddress: "unix:/s/cart.Cart-0.sock", Started: now.Add(-61 * time.Second), Restarts: 1},
					{Index: 1, State: control.Restarting, Restarts: 2, Why: "exited with status 3: boom after 10ms"}}},
		},
	}
	var b strings.Builder
	if err := printStatus(&b, st); err != nil {
		t.Fatal(err)
	}
	want := `shop: supervisor pid 42, deployment shop-0123456789ab, up 1m30s, ready in 1s
coordination store: embedded etcd at unix:///state/etcd/etcd.sock, prefix /pilotage/shop/
problem: 12:00:00 the state directory was removed
shop: http://127.0.0.1:8080 (2 backends, 3 of 1024 connections, 5 refused)
admin: http://127.0.0.1:8081 (0 backends, 0 of 1024 connections): no ready replica: stopped; accept failing 2s ago: accept: too many open files

NAME           STATE       REPLICAS  RESTARTS  ADDRESS                   UPTIME
redis          starting    0/1       0         127.0.0.1:6390            -
  redis        starting    pid 7     0         -                         5s
cart.Cart      ready       1/2       1         -                         1m1s
  cart.Cart/0  ready       pid 9     1         unix:/s/cart.Cart-0.sock  1m1s
  cart.Cart/1  restarting  -         2         -                         -

redis: probe tcp 127.0.0.1:6390: connection refused
cart.Cart/1: exited with status 3: boom after 10ms
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

// Ejections and open circuits that callers report show under the table.
func TestPrintStatusCallHealth(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	st := &control.Status{App: "shop", PID: 42, Now: now, Started: now.Add(-time.Minute), ReadyAt: now.Add(-59 * time.Second),
		Units: []control.UnitStatus{
			{Name: "catalog.Catalog", Kind: "component", Group: "catalog.Catalog", State: control.Ready, Want: 2, CircuitOpenIn: []string{"checkout.Checkout/1"},
				Replicas: []control.ReplicaStatus{{Index: 0, State: control.Ready, EjectedBy: []string{"checkout.Checkout/0", "checkout.Checkout/1"}},
					{Index: 1, State: control.Ready, EjectedBy: []string{"checkout.Checkout/1"}}}},
		}}
	var b strings.Builder
	if err := printStatus(&b, st); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"catalog.Catalog: circuit open in checkout.Checkout/1: every replica ejected, calls fail at once until a probe succeeds\n",
		"catalog.Catalog/0: ejected by checkout.Checkout/0, checkout.Checkout/1 for failing or timing out (probed until it recovers)\n",
		"catalog.Catalog/1: ejected by checkout.Checkout/1 for failing or timing out (probed until it recovers)\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status does not say %q:\n%s", want, b.String())
		}
	}
}
