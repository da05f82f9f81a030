package proclet

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// controlConn is the proclet's end of the control socket.
type controlConn struct {
	conn net.Conn
	mu   sync.Mutex // serializes writes
	enc  *json.Encoder
}

// openControl wraps file descriptor ControlFD.
func openControl() (*controlConn, error) {
	f := os.NewFile(ControlFD, "pilotage-control")
	if f == nil {
		return nil, fmt.Errorf("control socket: fd %d is not open", ControlFD)
	}
	defer f.Close() // FileConn dups it
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return &controlConn{conn: c, enc: json.NewEncoder(c)}, nil
}

// send writes m, stamping it with the current time.
func (c *controlConn) send(m Message) error {
	m.Time = time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.enc.Encode(m); err != nil {
		return fmt.Errorf("control socket: send %s: %w", m.Type, err)
	}
	return nil
}

// receive reads the supervisor's messages until the socket closes, then
// closes out. It answers Ping itself and hands Routes to onRoutes, so
// neither waits for the reader of out: the answer shows that this process
// is alive and scheduling goroutines, whatever the app is doing, even once
// nobody reads out (during shutdown). Other messages go to out.
func (c *controlConn) receive(out chan<- Message, onRoutes func(Message)) {
	defer close(out)
	sc := bufio.NewScanner(c.conn)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var m Message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			continue // a newer supervisor's message; ignore what we don't understand
		}
		switch m.Type {
		case Ping:
			_ = c.send(Message{Type: Pong, Seq: m.Seq}) // a failed send ends the loop at the next read
		case Routes:
			onRoutes(m)
		default:
			out <- m
		}
	}
}

func (c *controlConn) Close() error { return c.conn.Close() }

var _ io.Closer = (*controlConn)(nil)
