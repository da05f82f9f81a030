package control

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Idle connections to the control API are closed after the idle timeout,
// and connections past the limit at once; the API keeps answering.
func TestServerBoundsConnections(t *testing.T) {
	defer func(d time.Duration, n int) { idleTimeout, maxConns = d, n }(idleTimeout, maxConns)
	idleTimeout, maxConns = 300*time.Millisecond, 5
	dir := tempDir(t)
	srv, err := Listen(dir, newSliceBackend(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	sock := filepath.Join(dir, SocketName)
	// Five clients each make a request and keep their connection open.
	var conns []net.Conn
	for range 5 {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, "GET /v2/get/ HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		if _, err := c.Read(buf); err != nil {
			t.Fatalf("response: %v", err)
		}
		conns = append(conns, c)
	}
	// A sixth is closed at once.
	extra, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	extra.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := extra.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("a connection past the limit read %d, %v; want EOF", n, err)
	}
	extra.Close()
	// The idle ones are closed after the idle timeout...
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("an idle connection read %v, want EOF after the idle timeout", err)
		}
		c.Close()
	}
	// ...and then the API answers new clients.
	cl := Dial(dir)
	defer cl.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := cl.Get(context.Background(), "/")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status after the idle connections closed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A failure of the server other than Close is reported, not discarded.
func TestServerFailureLogged(t *testing.T) {
	logged := make(chan string, 10)
	srv, err := Listen(tempDir(t), newSliceBackend(), Options{Logf: func(f string, args ...any) { logged <- fmt.Sprintf(f, args...) }})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.ln.Close() // as if the socket failed under the server
	select {
	case msg := <-logged:
		if !strings.Contains(msg, "stopped serving") {
			t.Errorf("logged %q", msg)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the failure was not logged")
	}
	srv2, err := Listen(tempDir(t), newSliceBackend(), Options{Logf: func(f string, args ...any) { logged <- fmt.Sprintf(f, args...) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv2.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case msg := <-logged:
		t.Errorf("Close logged %q", msg)
	default:
	}
}
