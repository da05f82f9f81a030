package supervisor

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/pilotage/pilotage/internal/envelope"
)

// writeTimeout bounds one write to a proclet that stopped reading.
const writeTimeout = 5 * time.Second

// ctlConn is the supervisor's end of a proclet's envelope socket: the
// supervisor is one deployer of the envelope protocol. Writes go through
// an outbox drained by one goroutine, so a slow proclet never blocks the
// supervisor; Init goes first, nothing is sent before it (a proclet may
// start before its Init can be written: see spawnProclet), and only the
// latest Routes matters, so a newer one replaces an unsent one.
type ctlConn struct {
	raw  net.Conn
	conn *envelope.Conn

	mu     sync.Mutex
	init   *envelope.Init
	routes *envelope.Routes
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
	mine := os.NewFile(uintptr(fds[0]), "pilotage-envelope")
	theirs := os.NewFile(uintptr(fds[1]), "pilotage-envelope-child")
	defer mine.Close() // FileConn dups it
	c, err := net.FileConn(mine)
	if err != nil {
		theirs.Close()
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	cc := &ctlConn{raw: c, conn: envelope.NewConn(c, envelope.Deployer), wake: make(chan struct{}, 1)}
	go cc.writeLoop()
	return cc, theirs, nil
}

// sendInit queues the proclet's Init, sent before anything else.
func (c *ctlConn) sendInit(m envelope.Init) {
	c.mu.Lock()
	c.init = &m
	c.mu.Unlock()
	c.poke()
}

// sendRoutes queues m, replacing a queued Routes message.
func (c *ctlConn) sendRoutes(m envelope.Routes) {
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
	stopSent := false
	initSent := false
	for range c.wake {
		c.mu.Lock()
		if !initSent && c.init == nil && !c.closed {
			stop := c.stop
			c.mu.Unlock()
			if stop {
				// A proclet stopped before its Init waits for it: the
				// socket's end (EOF) stops it.
				_ = c.conn.Close()
				return
			}
			continue
		}
		init, routes, ping, stop, closed := c.init, c.routes, c.ping, c.stop && !stopSent, c.closed
		c.init, c.routes, c.ping = nil, nil, 0
		c.mu.Unlock()
		if closed {
			return
		}
		var msgs []envelope.Message
		if init != nil {
			msgs = append(msgs, *init)
			initSent = true
		}
		if routes != nil {
			msgs = append(msgs, *routes)
		}
		if ping != 0 {
			msgs = append(msgs, envelope.Ping{Seq: ping})
		}
		if stop {
			msgs = append(msgs, envelope.Stop{})
			stopSent = true
		}
		for _, m := range msgs {
			_ = c.raw.SetWriteDeadline(time.Now().Add(writeTimeout))
			if err := c.conn.Send(m); err != nil {
				return // the proclet is gone or stuck; its exit is handled elsewhere
			}
		}
	}
}

// readLoop delivers the proclet's messages to handle until EOF, and
// returns nil then, or the protocol error that ended the conversation (a
// proclet of another protocol version, an unknown message).
func (c *ctlConn) readLoop(handle func(envelope.Message)) error {
	for {
		m, err := c.conn.Receive()
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) {
			return nil
		}
		if err != nil {
			return err
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
