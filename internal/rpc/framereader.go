package rpc

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"time"
)

// DefaultFrameTimeout bounds, unless options say otherwise, how long a frame
// may stall: once its first byte has arrived, the reader waits at most this
// long for each of the next.
const DefaultFrameTimeout = 10 * time.Second

// errFrameStalled is wrapped by the error of a connection whose peer began a
// frame and then sent nothing more of it for the frame timeout.
var errFrameStalled = errors.New("rpc: frame stalled")

// A frameReader is the reader under a connection's bufio.Reader. Once bytes
// of a frame have arrived, each read must return within timeout, so a peer
// cannot hold a connection (and the buffer of its frame) by stopping in the
// middle of a frame; the wait for a frame to begin is not bounded, since an
// idle connection is legitimate. It also records when bytes last arrived,
// for keepalives.
type frameReader struct {
	nc      net.Conn
	timeout time.Duration // 0: no bound
	epoch   time.Time     // origin of lastRead and now (monotonic)

	inFrame  atomic.Bool  // bytes of a frame not yet wholly read have arrived
	lastRead atomic.Int64 // when a read last returned bytes, as now does
	stopped  atomic.Bool  // stop was called: its deadline must stay

	armed bool // a frame deadline is set on nc; used by the reading goroutine only
}

func newFrameReader(nc net.Conn, timeout time.Duration) *frameReader {
	return &frameReader{nc: nc, timeout: max(timeout, 0), epoch: time.Now()}
}

// now returns the time elapsed since the reader was made, in nanoseconds.
func (r *frameReader) now() int64 { return int64(time.Since(r.epoch)) }

// atFrameStart is called by the reading goroutine between frames: buffered
// reports whether bytes of the next frame are buffered already.
func (r *frameReader) atFrameStart(buffered bool) {
	if r.inFrame.Load() != buffered {
		r.inFrame.Store(buffered)
	}
}

func (r *frameReader) Read(p []byte) (int, error) {
	inFrame := r.inFrame.Load()
	switch {
	case inFrame && r.timeout > 0:
		r.nc.SetReadDeadline(time.Now().Add(r.timeout)) // an error shows in the read
		r.armed = true
	case !inFrame && r.armed:
		r.nc.SetReadDeadline(time.Time{})
		r.armed = false
	}
	if r.stopped.Load() { // the deadlines above may have replaced stop's
		return 0, fmt.Errorf("read stopped: %w", os.ErrDeadlineExceeded)
	}
	n, err := r.nc.Read(p)
	if n > 0 {
		r.lastRead.Store(r.now())
		if !inFrame {
			r.inFrame.Store(true)
		}
	}
	if err != nil && inFrame && r.armed && errors.Is(err, os.ErrDeadlineExceeded) && !r.stopped.Load() {
		err = fmt.Errorf("%w: no byte of a frame in progress for %v", errFrameStalled, r.timeout)
	}
	return n, err
}

// stop makes the reads in progress and to come fail at once.
func (r *frameReader) stop() {
	r.stopped.Store(true)
	r.nc.SetReadDeadline(time.Unix(1, 0))
}
