package coordinfo

import (
	"reflect"
	"testing"
	"time"
)

func TestSetGet(t *testing.T) {
	if _, ok := Get(); ok {
		t.Fatal("Get before Set: ok")
	}
	endpoints := []string{"unix:///state/etcd/etcd.sock"}
	want := Info{Endpoints: endpoints, Prefix: "/pilotage/shop/", TTL: 3 * time.Second, App: "shop", Deployment: "shop-0123", Replica: "cart.Cart/1"}
	Set(want)
	endpoints[0] = "changed by the caller"
	got, ok := Get()
	if !ok {
		t.Fatal("Get after Set: not ok")
	}
	want.Endpoints = []string{"unix:///state/etcd/etcd.sock"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Get = %+v, want %+v", got, want)
	}
	got.Endpoints[0] = "changed by a reader"
	if again, _ := Get(); again.Endpoints[0] != want.Endpoints[0] {
		t.Errorf("a reader changed the recorded endpoints: %v", again.Endpoints)
	}
}

func TestDrain(t *testing.T) {
	ran := make(chan string, 3)
	OnDrain(func() { ran <- "a" })
	remove := OnDrain(func() { ran <- "removed" })
	remove()
	Drain()
	Drain()
	if got := <-ran; got != "a" {
		t.Fatalf("ran %q", got)
	}
	OnDrain(func() { ran <- "late" })
	if got := <-ran; got != "late" {
		t.Fatalf("ran %q, want the hook registered after Drain", got)
	}
	select {
	case got := <-ran:
		t.Fatalf("ran %q more", got)
	case <-time.After(50 * time.Millisecond):
	}
}
