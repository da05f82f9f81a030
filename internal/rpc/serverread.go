package rpc

import (
	"errors"
	"fmt"
	"time"
)

// inlineBudget is how long a call that the connection's reader runs itself
// before reading on (see read) may take before the watchdog hands the
// reading on: frames that come meanwhile (a cancel, a ping, another
// request) wait at most about that long.
const inlineBudget = time.Millisecond

// read is the connection's reader, on whichever worker holds that role. It
// reads frames up to a request to run, then:
//
//   - if it is the connection's only call in flight and no more frames have
//     arrived, it runs the call and reads on after it: a lone call costs no
//     goroutine hand-off. Should the call run longer than inlineBudget, the
//     watchdog hands the reading on (handOffReading);
//   - otherwise it hands the reading on to another worker and runs the call
//     itself, so the call starts at once.
//
// It ends the connection's reading once a read fails.
func (sc *serverConn) read() {
	for {
		c, err := sc.readUntilCall()
		if err != nil {
			sc.readEnded(err)
			return
		}
		if !sc.alone() {
			sc.s.workers.start(connReader{sc})
			c.run()
			return
		}
		sc.inline.Store(true)
		sc.watchdog.Reset(inlineBudget)
		c.run()
		if !sc.inline.CompareAndSwap(true, false) {
			return // the watchdog handed the reading on
		}
		sc.watchdog.Stop() // should it fire late, it finds inline false, or hands the reading on early: harmless
	}
}

// alone reports whether the call just read is the only one in flight and
// nothing more has arrived.
func (sc *serverConn) alone() bool {
	if sc.br.Buffered() > 0 {
		return false
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return len(sc.inflight) == 1
}

// handOffReading is the watchdog of a call the reader runs itself: past
// inlineBudget, another worker takes over the reading.
func (sc *serverConn) handOffReading() {
	if sc.inline.CompareAndSwap(true, false) {
		sc.s.workers.start(connReader{sc})
	}
}

// readEnded ends the connection's reading, which failed with err.
func (sc *serverConn) readEnded(err error) {
	defer close(sc.readDone)
	if errors.Is(err, errProtocol) || errors.Is(err, errFrameStalled) {
		sc.s.opts.Logger.Warn("rpc: closing connection", "remote", sc.nc.RemoteAddr(), "err", err)
	}
	sc.mu.Lock()
	quiesced := sc.quiesced
	sc.mu.Unlock()
	if !quiesced { // else Shutdown closes the conn once its replies are written
		sc.close(err)
	}
}

// readUntilCall reads frames, answering pings and cancels and refusing the
// requests it cannot run, until a request to run: it returns its call,
// ready to run. It fails once a read fails or a frame is malformed.
func (sc *serverConn) readUntilCall() (*serverCall, error) {
	br, max := sc.br, sc.s.opts.MaxFrameSize
	for {
		sc.fr.atFrameStart(br.Buffered() > 0)
		h, err := readHeader(br, max)
		if err != nil {
			return nil, err
		}
		sc.readEnd += uint64(headerLen + h.n)
		switch h.typ {
		case framePing:
			// Answered here, whatever the handlers are doing: the client
			// must not take a slow handler for a frozen server.
			if h.n != 0 {
				return nil, fmt.Errorf("%w: ping with %d-byte payload", errProtocol, h.n)
			}
			var hdr [headerLen]byte
			putHeader(&hdr, framePong, 0, h.id)
			sc.q.enqueue(&hdr, nil, nil, nil, nil, unlimited) // fails only once the connection is closing
		case frameRequest:
			c, err := sc.request(br, h, sc.readEnd)
			if c != nil || err != nil {
				return c, err
			}
		case frameCancel:
			if h.n != 0 {
				return nil, fmt.Errorf("%w: cancel with %d-byte payload", errProtocol, h.n)
			}
			sc.mu.Lock()
			cancel := sc.inflight[h.id]
			sc.mu.Unlock()
			if cancel != nil {
				cancel()
			}
		default:
			return nil, fmt.Errorf("%w: unexpected frame type %d from client", errProtocol, h.typ)
		}
	}
}
