package envelope

import (
	"errors"
	"io"
	"net"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pair returns a deployer's and a runtime's Conn joined by a pipe.
func pair(t *testing.T) (deployer, runtime *Conn) {
	t.Helper()
	a, b := net.Pipe()
	deployer, runtime = NewConn(a, Deployer), NewConn(b, Runtime)
	t.Cleanup(func() { deployer.Close(); runtime.Close() })
	return deployer, runtime
}

// rawPeer returns the Conn of side self, and the raw other end to write
// lines on.
func rawPeer(t *testing.T, self Side) (*Conn, net.Conn) {
	t.Helper()
	a, b := net.Pipe()
	c := NewConn(a, self)
	t.Cleanup(func() { c.Close(); b.Close() })
	return c, b
}

// writeLines writes lines to w from another goroutine (a pipe blocks until
// read) and closes w after them.
func writeLines(w io.WriteCloser, lines ...string) {
	go func() {
		for _, l := range lines {
			if _, err := io.WriteString(w, l+"\n"); err != nil {
				return
			}
		}
		w.Close()
	}()
}

func send(t *testing.T, c *Conn, msgs ...Message) {
	t.Helper()
	go func() {
		for _, m := range msgs {
			if err := c.Send(m); err != nil {
				t.Errorf("send %s: %v", m.MessageType(), err)
				return
			}
		}
	}()
}

func receive(t *testing.T, c *Conn) Message {
	t.Helper()
	m, err := c.Receive()
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	return m
}

func TestConversation(t *testing.T) {
	deployer, runtime := pair(t)
	init := Init{
		App: "shop", Deployment: "shop-0123456789ab", Group: "cart.Cart", Replica: "cart.Cart/1",
		Components: []string{"example.com/shop/cart.Cart"}, Listeners: map[string]string{"web": "127.0.0.1:0"},
		RPCListen: "tcp::0", RPCAdvertise: "tcp:10.0.0.7:10000", ConfigPath: "/app/pilotage.toml",
		Health:       Health{Interval: Duration(time.Second), Timeout: Duration(5 * time.Second), FailureThreshold: 3},
		Coordination: &Coordination{Endpoints: []string{"unix:///state/etcd/etcd.sock"}, Prefix: "/pilotage/shop/", TTL: Duration(3 * time.Second)},
	}
	routes := Routes{
		Routes:  map[string][]string{"example.com/shop/cart.Cart": {"unix:/s/a.sock"}, "example.com/shop/catalog.Catalog": {}},
		Outages: map[string]Outage{"example.com/shop/catalog.Catalog": {Reason: "restarting", Transient: true}},
	}
	sent := []Message{init, routes, Ping{Seq: 7}, Stop{}}
	send(t, deployer, sent...)
	init.Protocol = ProtocolVersion // stamped by Send
	for _, want := range []Message{init, routes, Ping{Seq: 7}, Stop{}} {
		if got := receive(t, runtime); !reflect.DeepEqual(got, want) {
			t.Errorf("runtime received %#v, want %#v", got, want)
		}
	}

	now := time.Now().Round(0).UTC()
	back := []Message{
		Hello{PID: 42, RPCAddress: "tcp:10.0.0.7:10000", Build: "abc123"},
		Listening{Listener: "web", Address: "127.0.0.1:8080"},
		ComponentStarting{Component: "c", Time: now}, ComponentReady{Component: "c", Time: now},
		Ready{}, Unhealthy{Error: "sick", Failures: 3}, Pong{Seq: 7}, AppDone{}, Failed{Error: "boom"},
	}
	send(t, runtime, back...)
	for i, want := range back {
		if h, ok := want.(Hello); ok {
			h.Protocol = ProtocolVersion
			want = h
		}
		got := receive(t, deployer)
		if s, ok := got.(ComponentStarting); ok {
			s.Time = s.Time.UTC()
			got = s
		} else if r, ok := got.(ComponentReady); ok {
			r.Time = r.Time.UTC()
			got = r
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("message %d: deployer received %#v, want %#v", i, got, want)
		}
	}
}

func TestWireFormat(t *testing.T) {
	line, err := marshal(Ping{Seq: 3})
	if err != nil {
		t.Fatal(err)
	}
	if string(line) != `{"type":"ping","seq":3}` {
		t.Errorf("ping encodes as %s", line)
	}
	if line, _ := marshal(Stop{}); string(line) != `{"type":"stop"}` {
		t.Errorf("stop encodes as %s", line)
	}
	if line, _ := marshal(Init{Health: Health{Interval: Duration(500 * time.Millisecond)}}); !strings.Contains(string(line), `"interval":"500ms"`) {
		t.Errorf("health encodes as %s", line)
	}
}

// greeting is the first line of a peer of this protocol version: an
// "init" or a "hello".
func greeting(typ string) string {
	return `{"type":"` + typ + `","protocol":` + strconv.Itoa(ProtocolVersion) + `}`
}

func TestVersionMismatch(t *testing.T) {
	const module = "upgrade the app's github.com/pilotage/pilotage module"
	const command = "upgrade the pilotage command"
	for _, tc := range []struct {
		name    string
		self    Side
		line    string
		advice  string
		version string
	}{
		{"newer deployer", Runtime, `{"type":"init","protocol":99}`, module, "protocol 99"},
		{"older deployer", Runtime, `{"type":"init","protocol":0}`, command, "protocol 0"},
		{"newer runtime", Deployer, `{"type":"hello","protocol":99,"pid":1}`, command, "protocol 99"},
		{"older runtime", Deployer, `{"type":"hello","pid":1}`, module, "protocol 0"},
		// Version 1 had no coordination store: such a runtime would ignore it.
		{"runtime of version 1", Deployer, `{"type":"hello","protocol":1,"pid":1}`, module, "protocol 1"},
		{"deployer of version 1", Runtime, `{"type":"init","protocol":1}`, command, "protocol 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, w := rawPeer(t, tc.self)
			writeLines(w, tc.line)
			_, err := c.Receive()
			if !errors.Is(err, ErrMismatch) {
				t.Fatalf("got %v, want an error wrapping ErrMismatch", err)
			}
			for _, want := range []string{tc.advice, tc.version, "speaks " + strconv.Itoa(ProtocolVersion)} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

func TestUnknownType(t *testing.T) {
	c, w := rawPeer(t, Runtime)
	writeLines(w, greeting("init"), `{"type":"frobnicate","x":1}`)
	receive(t, c)
	_, err := c.Receive()
	if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), `"frobnicate"`) || !strings.Contains(err.Error(), "upgrade the app's github.com/pilotage/pilotage module") {
		t.Errorf("got %v, want an unknown-type error naming the type and the module to upgrade", err)
	}

	d, w := rawPeer(t, Deployer)
	writeLines(w, greeting("hello"), `{"type":"routes","routes":{}}`)
	receive(t, d)
	_, err = d.Receive()
	if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "upgrade the pilotage command") {
		t.Errorf("deployer got %v, want an unknown-type error naming the command to upgrade", err)
	}
}

func TestFirstMessageMustGreet(t *testing.T) {
	c, w := rawPeer(t, Runtime)
	writeLines(w, `{"type":"routes","routes":{}}`)
	if _, err := c.Receive(); err == nil || !strings.Contains(err.Error(), `first message is "routes", want "init"`) {
		t.Errorf("got %v, want an error about the missing init", err)
	}

	// A runtime may fail instead of saying hello.
	d, w := rawPeer(t, Deployer)
	writeLines(w, `{"type":"failed","error":"bad init"}`, `{"type":"hello","protocol":99}`)
	if m := receive(t, d); m != (Failed{Error: "bad init"}) {
		t.Errorf("got %#v, want the Failed message", m)
	}
	// A Hello after it is still checked.
	if _, err := d.Receive(); !errors.Is(err, ErrMismatch) {
		t.Errorf("hello of protocol 99 after failed: got %v, want ErrMismatch", err)
	}
}

func TestOversizeLine(t *testing.T) {
	c, w := rawPeer(t, Runtime)
	writeLines(w, `{"type":"init","protocol":`+strconv.Itoa(ProtocolVersion)+`,"app":"`+strings.Repeat("x", MaxLineSize)+`"}`)
	if _, err := c.Receive(); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("got %v, want an error about the line's size", err)
	}
	big := Routes{Routes: map[string][]string{"c": {strings.Repeat("a", MaxLineSize)}}}
	if err := c.Send(big); err == nil || !strings.Contains(err.Error(), "exceed the limit") {
		t.Errorf("send: got %v, want an error about the message's size", err)
	}
}

func TestEOF(t *testing.T) {
	c, w := rawPeer(t, Runtime)
	writeLines(w, greeting("init"))
	receive(t, c)
	if _, err := c.Receive(); err != io.EOF {
		t.Errorf("after the peer closed: got %v, want io.EOF", err)
	}

	c, w = rawPeer(t, Runtime)
	writeLines(w, greeting("init"), `{"type":"ping"`) // cut short
	receive(t, c)
	if _, err := c.Receive(); err == nil || err == io.EOF {
		t.Errorf("a truncated last line: got %v, want an error", err)
	}
}

func TestCoordinationWireFormat(t *testing.T) {
	line, err := marshal(Init{Coordination: &Coordination{Endpoints: []string{"http://10.0.0.1:2379"}, Prefix: "/pilotage/shop/", TTL: Duration(2 * time.Second)}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `"coordination":{"endpoints":["http://10.0.0.1:2379"],"prefix":"/pilotage/shop/","ttl":"2s"}`; !strings.Contains(string(line), want) {
		t.Errorf("init encodes as %s, want it to hold %s", line, want)
	}
	if line, _ := marshal(Init{}); strings.Contains(string(line), "coordination") {
		t.Errorf("an init without a store encodes as %s, want no coordination field", line)
	}
}
