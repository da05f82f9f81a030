package supervisor

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/pilotage/pilotage/internal/proclet"
)

// writeTimeout bounds one write to a proclet that stopped reading.
const writeTimeout = 5 * time.Second

// ctlConn is the supervisor's end of a proclet's control socket. Writes go
// through an outbox drained by one goroutine, so a slow proclet never
// blocks the supervisor; only the latest Routes matters, so a newer one
// replaces an unsent one.
type ctlConn struct {
	conn net.Conn

	mu     sync.Mutex
	routes *proclet.Message
	ping   uint64 // sequence number of a ping to send, or 0
	stop   bool
	closed bool
	wake   chan struct{}
}

// socketpair returns the supervisor's end, wrapped, and the child's end.
func socketpair() (*ctlConn, *os.File, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	mine := os.NewFile(uintptr(fds[0]), "pilotage-control")
	theirs := os.NewFile(uintptr(fds[1]), "pilotage-control-child")
	defer mine.Close() // FileConn dups it
	c, err := net.FileConn(mine)
	if err != nil {
		theirs.Close()
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	cc := &ctlConn{conn: c, wake: make(chan struct{}, 1)}
	go cc.writeLoop()
	return cc, theirs, nil
}

// sendRoutes queues m, replacing a queued Routes message.
func (c *ctlConn) sendRoutes(m proclet.Message) {
	c.mu.Lock()
	c.routes = &m
	c.mu.Unlock()
	c.poke()
}

// sendPing queues a Ping with sequence number seq, replacing an unsent one.
func (c *ctlConn) sendPing(seq uint64) {
	c.mu.Lock()
	c.ping = seq
	c.mu.Unlock()
	c.poke()
}

// sendStop queues a Stop message, sent after any queued Routes.
func (c *ctlConn) sendStop() {
	c.mu.Lock()
	c.stop = true
	c.mu.Unlock()
	c.poke()
}

func (c *ctlConn) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *ctlConn) writeLoop() {
	enc := json.NewEncoder(c.conn)
	stopSent := false
	for range c.wake {
		c.mu.Lock()
		routes, ping, stop, closed := c.routes, c.ping, c.stop && !stopSent, c.closed
		c.routes, c.ping = nil, 0
		c.mu.Unlock()
		if closed {
			return
		}
		var msgs []proclet.Message
		if routes != nil {
			msgs = append(msgs, *routes)
		}
		if ping != 0 {
			msgs = append(msgs, proclet.Message{Type: proclet.Ping, Seq: ping})
		}
		if stop {
			msgs = append(msgs, proclet.Message{Type: proclet.Stop})
			stopSent = true
		}
		for _, m := range msgs {
			m.Time = time.Now()
			_ = c.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
			if err := enc.Encode(m); err != nil {
				return // the proclet is gone or stuck; its exit is handled elsewhere
			}
		}
	}
}

// readLoop delivers the proclet's messages to handle until EOF.
func (c *ctlConn) readLoop(handle func(proclet.Message)) {
	sc := bufio.NewScanner(c.conn)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var m proclet.Message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			continue // a newer proclet's message; ignore what we don't understand
		}
		if m.Time.IsZero() {
			m.Time = time.Now()
		}
		handle(m)
	}
}

// close closes the socket: the proclet sees EOF.
func (c *ctlConn) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.poke()
	_ = c.conn.Close()
}
