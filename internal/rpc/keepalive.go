package rpc

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

const (
	// DefaultKeepaliveInterval is how long, unless options say otherwise, a
	// Conn with calls in flight waits without reading anything before it
	// pings the server.
	DefaultKeepaliveInterval = time.Second
	// DefaultKeepaliveTimeout is how long, unless options say otherwise, a
	// Conn waits for the server to send anything once a ping was written.
	DefaultKeepaliveTimeout = 2 * time.Second
)

// errUnresponsive is wrapped by the cause of a Conn that died because its
// server answered no ping: the process is frozen (stopped, deadlocked in its
// runtime, swapped out) or the link is gone without a reset.
var errUnresponsive = errors.New("server unresponsive")

// keepalive is the state of a Conn's liveness checks, guarded by Conn.mu.
//
// While calls are in flight (or a reply is being read), a timer runs: when
// nothing was read for interval, it queues a ping, which the server's reader
// answers at once with a pong. Any byte read answers it. If none arrives
// within timeout of the ping being written, the Conn dies. The clock starts
// once the ping was written, not queued, so a large request being written to
// a server that reads it slowly is not mistaken for a frozen server (a server
// that reads nothing is caught by the write timeout instead). With nothing in
// flight the timer stops: an idle Conn costs nothing.
type keepalive struct {
	interval time.Duration // 0: no pings
	timeout  time.Duration

	timer     *time.Timer   // runs Conn.checkAlive; made on first use
	armed     bool          // the timer is set, or checkAlive is running
	since     int64         // when the timer was armed (frameReader.now)
	pinging   bool          // a ping is unanswered
	pingAt    int64         // when it was queued
	writtenAt int64         // when it was seen written; 0 until then
	pingEnd   atomic.Uint64 // stream offset of the ping's end, set by enqueue
	pings     int           // pings sent, for tests
	due       int64         // when the timer is meant to fire (frameReader.now)
}

// set (re)arms the timer to fire d after now.
func (ka *keepalive) set(c *Conn, now int64, d time.Duration) {
	ka.due = now + int64(d)
	if ka.timer == nil {
		ka.timer = time.AfterFunc(d, c.checkAlive)
	} else {
		ka.timer.Reset(d)
	}
}

// armKeepaliveLocked starts the keepalive timer for a call just added.
func (c *Conn) armKeepaliveLocked() {
	ka := &c.ka
	if ka.interval <= 0 {
		return
	}
	ka.armed, ka.since = true, c.fr.now()
	ka.set(c, ka.since, ka.interval)
}

func (c *Conn) stopKeepaliveLocked() {
	if c.ka.timer != nil {
		c.ka.timer.Stop()
	}
	c.ka.armed = false
}

// checkAlive runs when the keepalive timer fires: it sends a ping, kills a
// Conn whose ping went unanswered, or sets the timer again (unless the Conn
// went idle). Only one runs at a time: the timer is set again only as the
// last step of one.
func (c *Conn) checkAlive() {
	c.mu.Lock()
	ping, dead := c.checkAliveLocked()
	c.mu.Unlock()
	switch {
	case dead:
		c.die(fmt.Errorf("%w: no reply to a ping within %v", errUnresponsive, c.ka.timeout))
	case ping:
		c.ping()
	}
}

// checkAliveLocked decides what checkAlive does: nothing more (the timer is
// set again, or stopped if the Conn is idle), send a ping, or kill the Conn.
func (c *Conn) checkAliveLocked() (ping, dead bool) {
	ka := &c.ka
	if c.err != nil {
		return false, false
	}
	now := c.fr.now()
	lastRead := c.fr.lastRead.Load()
	if ka.pinging && ka.writtenAt != 0 && now-ka.due > int64(ka.timeout)/2 {
		// The timer fired late: this process was stalled, and a reply may
		// be waiting unread. Give the server its timeout from now.
		ka.writtenAt = now
	}
	if ka.pinging {
		if lastRead <= ka.pingAt {
			// Unanswered. It is followed up even if the calls have ended,
			// so that a dead Conn is not kept for the next ones.
			if ka.writtenAt == 0 && c.q.wroteUpTo(ka.pingEnd.Load()) {
				ka.writtenAt = now
			}
			if ka.writtenAt != 0 && now-ka.writtenAt >= int64(ka.timeout) {
				ka.armed = false
				return false, true
			}
			ka.set(c, now, ka.nextCheck(now))
			return false, false
		}
		ka.pinging = false
	}
	if len(c.calls) == 0 && !c.fr.inFrame.Load() {
		ka.armed = false
		return false, false
	}
	if quiet := now - max(lastRead, ka.since); quiet < int64(ka.interval) {
		ka.set(c, now, ka.interval-time.Duration(quiet))
		return false, false
	}
	ka.pinging, ka.pingAt, ka.writtenAt = true, now, 0
	ka.pings++
	return true, false
}

// ping queues a ping and sets the timer to follow it up.
func (c *Conn) ping() {
	var hdr [headerLen]byte
	putHeader(&hdr, framePing, 0, 0)
	err := c.q.enqueue(&hdr, nil, nil, nil, &c.ka.pingEnd, unlimited)
	c.mu.Lock()
	defer c.mu.Unlock()
	ka := &c.ka
	if err != nil || c.err != nil { // the Conn is dying, of its own cause
		ka.armed = false
		return
	}
	now := c.fr.now()
	if c.q.wroteUpTo(ka.pingEnd.Load()) { // the usual case: written at once
		ka.writtenAt = now
	}
	ka.set(c, now, ka.nextCheck(now))
}

// nextCheck returns when an unanswered ping must be looked at again: when its
// timeout expires if it was written, else a little later to see whether it
// has been.
func (ka *keepalive) nextCheck(now int64) time.Duration {
	if ka.writtenAt != 0 {
		return max(time.Duration(ka.writtenAt+int64(ka.timeout)-now), time.Millisecond)
	}
	return max(ka.timeout/4, time.Millisecond)
}
