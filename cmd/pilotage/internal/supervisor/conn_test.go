package supervisor

import (
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/pilotage/pilotage/internal/envelope"
)

// procletEnd wraps the child's end of a ctlConn as a runtime would read it.
func procletEnd(t *testing.T, child *os.File) *envelope.Conn {
	t.Helper()
	raw, err := net.FileConn(child)
	child.Close()
	if err != nil {
		t.Fatal(err)
	}
	_ = raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	c := envelope.NewConn(raw, envelope.Runtime)
	t.Cleanup(func() { c.Close() })
	return c
}

// Nothing reaches a proclet before its Init, however late the Init is
// queued: routes and pings queued before it follow it.
func TestCtlConnInitFirst(t *testing.T) {
	conn, child, err := socketpair()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.close()
	runtime := procletEnd(t, child)
	conn.sendRoutes(envelope.Routes{Routes: map[string][]string{"a": {"unix:/a"}}})
	conn.sendPing(1)
	conn.sendInit(envelope.Init{App: "test", Replica: "a/0"})
	m, err := runtime.Receive()
	if err != nil {
		t.Fatal(err)
	}
	if init, ok := m.(envelope.Init); !ok || init.Replica != "a/0" {
		t.Fatalf("first message %#v, want the Init", m)
	}
	for _, want := range []string{envelope.TypeRoutes, envelope.TypePing} {
		m, err := runtime.Receive()
		if err != nil || m.MessageType() != want {
			t.Fatalf("got %v, %v; want %s", m, err, want)
		}
	}
}

// A Stop before the Init ends the conversation: the proclet, waiting for
// its Init, sees EOF and exits.
func TestCtlConnStopBeforeInit(t *testing.T) {
	conn, child, err := socketpair()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.close()
	runtime := procletEnd(t, child)
	conn.sendRoutes(envelope.Routes{})
	conn.sendStop()
	if m, err := runtime.Receive(); err != io.EOF {
		t.Fatalf("got %v, %v; want EOF", m, err)
	}
}
