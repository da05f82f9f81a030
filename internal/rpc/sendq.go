package rpc

import (
	"net"
	"sync"
	"sync/atomic"
)

// maxRetainedBuf caps the send buffer kept between flushes, so one burst of
// large frames does not pin memory for the life of the connection.
const maxRetainedBuf = 4 << 20

// flushRounds bounds how many batches a writer flushes for others before it
// hands the work to the connection's writer goroutine and returns to its call.
const flushRounds = 4

// A sendQueue serializes frames onto a connection and coalesces concurrent
// writers into shared write system calls (see the package doc).
//
// Invariant: whenever the queue holds unwritten frames, flushing is true and
// exactly one goroutine (a writer or the writer goroutine) owns the flush.
type sendQueue struct {
	nc      net.Conn
	onError func(error) // called once, without locks, on the first write error

	mu       sync.Mutex
	idle     sync.Cond // broadcast when flushing becomes false
	buf      []byte    // pending copied bytes
	ext      []extSeg  // pending uncopied payloads, in order
	spareBuf []byte
	spareExt []extSeg
	flushing bool
	handoff  bool  // the writer goroutine owns the flush
	err      error // sticky: once set nothing more is written
	appended uint64

	// attempted is the stream offset up to which bytes have been handed to a
	// write system call (lowered to the exact count after a failed write).
	// A frame ending at or before it may have reached the peer.
	attempted atomic.Uint64

	kick chan struct{}
	bufs net.Buffers // writev scratch, used only by the flush owner
}

// An extSeg is a payload written from its owner's memory.
type extSeg struct {
	at    int // offset in buf before which data goes
	data  []byte
	owner releaser
}

// A releaser owns an uncopied payload; release runs once its bytes were
// written or will never be. (An interface rather than a func so that pooled
// owners cost no allocation.)
type releaser interface{ release() }

func newSendQueue(nc net.Conn, onError func(error)) *sendQueue {
	q := &sendQueue{nc: nc, onError: onError, kick: make(chan struct{}, 1), buf: make([]byte, 0, 16<<10)}
	q.idle.L = &q.mu
	return q
}

// enqueue queues a frame: hdr, prefix, then body. A nil owner means body is
// copied; otherwise body is referenced until owner.release runs, which always
// happens exactly once, also when enqueue fails. If end is not nil, the
// frame's end offset in the stream is stored in it before the frame can be
// written. A non-nil error means nothing was queued.
func (q *sendQueue) enqueue(hdr *[headerLen]byte, prefix, body []byte, owner releaser, end *atomic.Uint64) error {
	q.mu.Lock()
	if q.err != nil {
		err := q.err
		q.mu.Unlock()
		if owner != nil {
			owner.release()
		}
		return err
	}
	q.buf = append(q.buf, hdr[:]...)
	q.buf = append(q.buf, prefix...)
	if owner != nil {
		q.ext = append(q.ext, extSeg{at: len(q.buf), data: body, owner: owner})
	} else {
		q.buf = append(q.buf, body...)
	}
	q.appended += uint64(headerLen + len(prefix) + len(body))
	if end != nil {
		end.Store(q.appended)
	}
	if q.flushing {
		q.mu.Unlock()
		return nil
	}
	q.flushing = true
	q.flush(flushRounds)
	return nil
}

// flush writes batches until the queue is empty. It is called with q.mu held
// by the flush owner and returns with it released. After rounds batches
// (rounds > 0) it hands the rest to the writer goroutine.
func (q *sendQueue) flush(rounds int) {
	for i := 0; ; i++ {
		if q.err != nil {
			q.dropLocked()
		}
		if len(q.buf) == 0 && len(q.ext) == 0 {
			q.flushing = false
			q.idle.Broadcast()
			q.mu.Unlock()
			return
		}
		if rounds > 0 && i >= rounds {
			q.handoff = true
			q.mu.Unlock()
			select {
			case q.kick <- struct{}{}:
			default: // already kicked
			}
			return
		}
		buf, ext := q.buf, q.ext
		q.buf, q.ext = q.spareBuf[:0], q.spareExt[:0]
		q.spareBuf, q.spareExt = nil, nil
		before := q.attempted.Load()
		q.attempted.Store(q.appended)
		q.mu.Unlock()

		n, err := q.write(buf, ext)
		for j := range ext {
			ext[j].owner.release()
		}
		clear(ext)

		q.mu.Lock()
		if cap(buf) <= maxRetainedBuf {
			q.spareBuf = buf[:0]
		}
		q.spareExt = ext[:0]
		if err != nil {
			q.attempted.Store(before + uint64(n))
			first := q.err == nil
			if first {
				q.err = err
			}
			q.dropLocked()
			q.flushing = false
			q.idle.Broadcast()
			q.mu.Unlock()
			if first {
				q.onError(err)
			}
			return
		}
	}
}

func (q *sendQueue) write(buf []byte, ext []extSeg) (int64, error) {
	if len(ext) == 0 {
		n, err := q.nc.Write(buf)
		return int64(n), err
	}
	bufs := q.bufs[:0]
	prev := 0
	for _, e := range ext {
		if e.at > prev {
			bufs = append(bufs, buf[prev:e.at])
		}
		bufs = append(bufs, e.data)
		prev = e.at
	}
	if prev < len(buf) {
		bufs = append(bufs, buf[prev:])
	}
	q.bufs = bufs[:0] // WriteTo consumes its receiver; keep the backing array
	return bufs.WriteTo(q.nc)
}

// dropLocked discards unwritten frames after a failure.
func (q *sendQueue) dropLocked() {
	for _, e := range q.ext {
		e.owner.release()
	}
	clear(q.ext)
	q.buf, q.ext = q.buf[:0], q.ext[:0]
}

// run is the connection's writer goroutine: it takes over flushes handed off
// by writers, and exits once the queue has failed.
func (q *sendQueue) run() {
	for range q.kick {
		q.mu.Lock()
		if q.handoff {
			q.handoff = false
			q.flush(0)
			q.mu.Lock()
		}
		dead := q.err != nil && !q.handoff
		q.mu.Unlock()
		if dead {
			return
		}
	}
}

// fail stops the queue: queued frames are dropped and later enqueues fail
// with err. A flush in progress finishes its current write.
func (q *sendQueue) fail(err error) {
	q.mu.Lock()
	if q.err == nil {
		q.err = err
	}
	if !q.flushing {
		q.dropLocked()
	}
	q.mu.Unlock()
	select {
	case q.kick <- struct{}{}: // wake the writer goroutine so it exits
	default:
	}
}

// waitIdle blocks until nothing is being or waiting to be written.
func (q *sendQueue) waitIdle() {
	q.mu.Lock()
	for q.flushing {
		q.idle.Wait()
	}
	q.mu.Unlock()
}
