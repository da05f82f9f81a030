package rpc

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pilotage/pilotage/codegen"
)

// maxRetainedBuf caps the send buffer kept between flushes, so one burst of
// large frames does not pin memory for the life of the connection.
const maxRetainedBuf = 4 << 20

// initialSendBuf is the capacity of a new send buffer.
const initialSendBuf = 16 << 10

// flushRounds bounds how many batches a writer flushes for others before it
// hands the work to the connection's writer goroutine and returns to its call.
const flushRounds = 4

// inlineWriteSlice bounds how long a writer flushing from its own call may
// block in one write: when the peer does not read, the writer goroutine takes
// over the rest and the caller goes back to watching its context. The write
// deadline is refreshed lazily, so a slice lasts between half and all of it.
// (Refreshing it costs: with a 2ms slice, echo calls of 10KiB were ~8%
// slower.)
const inlineWriteSlice = 20 * time.Millisecond

const (
	// DefaultWriteTimeout bounds one flush (one batch of frames) unless
	// options say otherwise.
	DefaultWriteTimeout = 20 * time.Second
	// DefaultMaxQueuedBytes bounds the bytes queued but not yet written on a
	// connection unless options say otherwise (it is raised to twice the
	// largest frame the peer accepts).
	DefaultMaxQueuedBytes = 64 << 20
)

// errQueueFull is the cause of a request refused because the connection's
// send queue is over its limit (the peer reads slower than we send).
var errQueueFull = errors.New("rpc: send queue full")

// Limits on an enqueue.
const (
	unlimited = iota // control frames: always queued
	failFull         // requests: fail with errQueueFull over the limit
	waitFull         // replies: wait for the queue to drain below the limit
)

// A sendQueue serializes frames onto a connection and coalesces concurrent
// writers into shared write system calls (see the package doc).
//
// Invariant: whenever the queue holds unwritten frames (pending, or a batch
// partly written), flushing is true and exactly one goroutine (a writer or
// the writer goroutine) owns the flush.
//
// The queue relies on nc surviving a write deadline: after a write times out
// it goes on from the byte where the write stopped (true of *net.TCPConn,
// *net.UnixConn and net.Pipe, not of *tls.Conn).
type sendQueue struct {
	nc           net.Conn
	onError      func(error) // called once, without locks, on the first write error
	writeTimeout time.Duration
	maxQueued    int

	mu       sync.Mutex
	idle     sync.Cond // broadcast when flushing becomes false
	space    sync.Cond // broadcast when bytes were written or the queue failed
	progress sync.Cond // broadcast when a write system call returns
	buf      []byte    // pending copied bytes
	ext      []extSeg  // pending uncopied payloads, in order
	spareBuf []byte
	spareExt []extSeg
	flushing bool
	handoff  bool  // the writer goroutine owns the flush
	running  bool  // the writer goroutine was started
	err      error // sticky: once set nothing more is written
	appended uint64
	written  uint64 // stream offset up to which bytes were written

	// The batch being written, from woff on. Its uncopied payloads may be
	// detached (copied) while the batch is in progress.
	wbuf      []byte
	wext      []extSeg
	woff      int
	wstart    uint64    // stream offset of the batch
	wbegan    time.Time // when its first write began
	writing   bool      // a write system call is in progress
	wgen      uint64    // incremented whenever a write system call returns
	interrupt bool      // the write deadline was moved to the past to stop the write
	wdl       time.Time // the write deadline currently set on nc

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
	owner releaser // nil once detached (data is then the queue's copy)
}

// A releaser owns an uncopied payload; release runs once its bytes were
// written or will never be, unless the owner detached it. (An interface
// rather than a func so that pooled owners cost no allocation.)
type releaser interface{ release() }

func newSendQueue(nc net.Conn, writeTimeout time.Duration, maxQueued int, onError func(error)) *sendQueue {
	q := &sendQueue{
		nc: nc, onError: onError, writeTimeout: writeTimeout, maxQueued: maxQueued,
		kick: make(chan struct{}, 1),
	}
	q.idle.L = &q.mu
	q.space.L = &q.mu
	q.progress.L = &q.mu
	return q
}

// enqueue queues a frame: hdr, prefix, then body. A nil owner means body is
// copied; otherwise body is referenced until owner.release runs, which always
// happens exactly once (also when enqueue fails) unless the owner detaches
// it. If end is not nil, the frame's end offset in the stream is stored in it
// before the frame can be written. limit says what happens when the bytes
// not yet written exceed the queue's limit (a frame is always accepted by an
// empty queue). A non-nil error means nothing was queued.
func (q *sendQueue) enqueue(hdr *[headerLen]byte, prefix, body []byte, owner releaser, end *atomic.Uint64, limit int) error {
	size := uint64(headerLen + len(prefix) + len(body))
	if err := q.admit(size, owner, limit); err != nil {
		return err
	}
	q.buf = append(q.buf, hdr[:]...)
	q.buf = append(q.buf, prefix...)
	if owner != nil {
		q.ext = append(q.ext, extSeg{at: len(q.buf), data: body, owner: owner})
	} else {
		q.buf = append(q.buf, body...)
	}
	q.queuedLocked(size, end)
	return nil
}

// enqueueEncoded queues a frame of hdr then the segments of out
// (codegen.Encoder.Segments), all written from out's memory and the
// memory it refers to, until owner.release runs, as for enqueue. A
// non-nil error means nothing was queued.
func (q *sendQueue) enqueueEncoded(hdr *[headerLen]byte, out *codegen.Encoder, owner releaser, limit int) error {
	size := uint64(headerLen + out.Size())
	if err := q.admit(size, owner, limit); err != nil {
		return err
	}
	q.buf = append(q.buf, hdr[:]...)
	first := len(q.ext)
	out.Segments(func(b []byte) { q.ext = append(q.ext, extSeg{at: len(q.buf), data: b}) })
	if len(q.ext) > first {
		q.ext[len(q.ext)-1].owner = owner // released once the last is written: they are one batch
	}
	q.queuedLocked(size, nil)
	return nil
}

// admit waits for room for a frame of size bytes, as limit says, and
// returns with q.mu held; or fails, releasing owner, with q.mu released.
func (q *sendQueue) admit(size uint64, owner releaser, limit int) error {
	q.mu.Lock()
	if limit == waitFull {
		for q.err == nil && q.overLocked(size) {
			q.space.Wait()
		}
	}
	err := q.err
	if err == nil && limit == failFull && q.overLocked(size) {
		err = fmt.Errorf("%w: %d bytes not yet written, limit %d", errQueueFull, q.appended-q.written, q.maxQueued)
	}
	if err != nil {
		q.mu.Unlock()
		if owner != nil {
			owner.release()
		}
		return err
	}
	if q.buf == nil { // made on first use: a connection that sends nothing costs nothing
		q.buf = make([]byte, 0, initialSendBuf)
	}
	return nil
}

// queuedLocked accounts for a frame of size bytes just queued, stores its
// end offset in end (if not nil), and flushes unless a flush is in
// progress. It releases q.mu.
func (q *sendQueue) queuedLocked(size uint64, end *atomic.Uint64) {
	q.appended += size
	if end != nil {
		end.Store(q.appended)
	}
	if q.flushing {
		q.mu.Unlock()
		return
	}
	q.flushing = true
	q.flush(true)
}

// overLocked reports whether queuing size more bytes would pass the limit.
func (q *sendQueue) overLocked(size uint64) bool {
	pending := q.appended - q.written
	return pending > 0 && pending+size > uint64(q.maxQueued)
}

// flush writes batches until the queue is empty. It is called with q.mu held
// by the flush owner and returns with it released. An inline flush (by a
// writer, from its call) hands the rest to the writer goroutine after
// flushRounds batches or once a write blocks for inlineWriteSlice.
func (q *sendQueue) flush(inline bool) {
	rounds := 0
	for {
		if q.err != nil {
			if q.wbuf != nil { // the rest of the batch will never be written
				q.attempted.Store(q.wstart + uint64(q.woff))
			}
			q.dropLocked()
			q.stopLocked()
			q.mu.Unlock()
			return
		}
		if q.wbuf == nil {
			if len(q.buf) == 0 && len(q.ext) == 0 {
				q.stopLocked()
				q.mu.Unlock()
				return
			}
			if inline && rounds >= flushRounds {
				q.handOffLocked()
				return
			}
			rounds++
			q.wbuf, q.wext, q.woff = q.buf, q.ext, 0
			q.buf, q.ext = q.spareBuf[:0], q.spareExt[:0]
			q.spareBuf, q.spareExt = nil, nil
			q.wstart = q.written
			q.wbegan = time.Time{}
			q.attempted.Store(q.appended)
		}
		now := time.Now()
		if q.wbegan.IsZero() {
			q.wbegan = now
		}
		if inline {
			if q.wdl.Before(now.Add(inlineWriteSlice/2)) || q.wdl.After(now.Add(inlineWriteSlice)) {
				q.setWriteDeadlineLocked(now.Add(inlineWriteSlice))
			}
		} else if want := q.wbegan.Add(q.writeTimeout); q.wdl.Before(want.Add(-q.writeTimeout/8)) || q.wdl.After(want) {
			q.setWriteDeadlineLocked(want)
		}
		buf, bufs := q.pendingBatchLocked()
		q.writing, q.interrupt = true, false
		q.mu.Unlock()

		var n int64
		var err error
		if bufs == nil {
			var m int
			m, err = q.nc.Write(buf)
			n = int64(m)
		} else {
			n, err = writeBuffers(q.nc, bufs)
		}

		q.mu.Lock()
		q.writing = false
		q.wgen++
		q.progress.Broadcast()
		q.woff += int(n)
		q.written += uint64(n)
		if n > 0 {
			q.space.Broadcast()
		}
		if err == nil || q.woff == q.batchLen() {
			q.endBatchLocked()
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) && q.err == nil {
			if q.interrupt { // a caller detached its payload; go on
				continue
			}
			if inline { // the peer is slow: let the writer goroutine wait for it
				q.handOffLocked()
				return
			}
			err = fmt.Errorf("no write finished within %v: %w", q.writeTimeout, err)
		}
		q.attempted.Store(q.wstart + uint64(q.woff))
		first := q.err == nil
		if first {
			q.err = err
		}
		q.dropLocked()
		q.stopLocked()
		q.mu.Unlock()
		if first {
			q.onError(err)
		}
		return
	}
}

func (q *sendQueue) setWriteDeadlineLocked(t time.Time) {
	q.nc.SetWriteDeadline(t) // an error shows in the write
	q.wdl = t
}

// handOffLocked gives the flush to the writer goroutine, starting it the
// first time, and releases q.mu.
func (q *sendQueue) handOffLocked() {
	q.handoff = true
	if !q.running {
		q.running = true
		go q.run()
	}
	q.mu.Unlock()
	select {
	case q.kick <- struct{}{}:
	default: // already kicked
	}
}

// stopLocked ends the flush.
func (q *sendQueue) stopLocked() {
	q.flushing = false
	q.idle.Broadcast()
	q.space.Broadcast()
}

func (q *sendQueue) batchLen() int {
	n := len(q.wbuf)
	for _, e := range q.wext {
		n += len(e.data)
	}
	return n
}

// pendingBatchLocked returns the unwritten rest of the batch: a plain buffer,
// or (with uncopied payloads) a net.Buffers.
func (q *sendQueue) pendingBatchLocked() ([]byte, net.Buffers) {
	if len(q.wext) == 0 {
		return q.wbuf[q.woff:], nil
	}
	bufs := q.bufs[:0]
	skip := q.woff
	prev := 0
	for j := 0; j <= len(q.wext); j++ {
		// The copied bytes before segment j (or the tail), then its payload.
		at := len(q.wbuf)
		if j < len(q.wext) {
			at = q.wext[j].at
		}
		bufs, skip = appendSkip(bufs, q.wbuf[prev:at], skip)
		if j < len(q.wext) {
			bufs, skip = appendSkip(bufs, q.wext[j].data, skip)
		}
		prev = at
	}
	q.bufs = bufs[:0] // WriteTo consumes its receiver; keep the backing array
	return nil, bufs
}

// writeBuffers writes bufs with writev. (A function of its own: bufs escapes,
// and would be allocated on every flush if it were a variable of flush.)
func writeBuffers(nc net.Conn, bufs net.Buffers) (int64, error) {
	return bufs.WriteTo(nc)
}

// appendSkip appends b to bufs less the first skip bytes, and returns the
// bytes left to skip.
func appendSkip(bufs net.Buffers, b []byte, skip int) (net.Buffers, int) {
	if skip >= len(b) {
		return bufs, skip - len(b)
	}
	return append(bufs, b[skip:]), 0
}

// endBatchLocked releases the written batch and recycles its buffers.
func (q *sendQueue) endBatchLocked() {
	for j := range q.wext {
		if o := q.wext[j].owner; o != nil {
			o.release()
		}
	}
	clear(q.wext)
	if cap(q.wbuf) <= maxRetainedBuf {
		q.spareBuf = q.wbuf[:0]
	}
	q.spareExt = q.wext[:0]
	q.wbuf, q.wext, q.woff = nil, nil, 0
}

// dropLocked discards unwritten frames after a failure.
func (q *sendQueue) dropLocked() {
	for _, e := range q.ext {
		if e.owner != nil {
			e.owner.release()
		}
	}
	clear(q.ext)
	q.buf, q.ext = q.buf[:0], q.ext[:0]
	if q.wbuf != nil && !q.writing {
		for _, e := range q.wext {
			if e.owner != nil {
				e.owner.release()
			}
		}
		clear(q.wext)
		q.wbuf, q.wext, q.woff = nil, nil, 0
	}
}

// detach makes the queue stop referencing the uncopied payload of owner o,
// for a caller that stops waiting for its write: a payload still queued is
// copied, and so is one being written, once the write in progress returns
// (it is interrupted at once). It reports whether o.release has run or will
// run (the payload was written or dropped already); if not, it never will.
func (q *sendQueue) detach(o releaser) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := range q.ext {
		if e := &q.ext[i]; e.owner == o {
			e.data, e.owner = bytes.Clone(e.data), nil
			return false
		}
	}
	for i := range q.wext {
		if e := &q.wext[i]; e.owner == o {
			e.data, e.owner = bytes.Clone(e.data), nil
			if q.writing { // the system call may still read the caller's memory
				q.interrupt = true
				q.setWriteDeadlineLocked(time.Unix(1, 0))
				for gen := q.wgen; q.wgen == gen; {
					q.progress.Wait()
				}
			}
			return false
		}
	}
	return true
}

// run is the connection's writer goroutine, started by the first hand-off (a
// connection whose writers never need one has none): it takes over flushes
// handed off by writers, and exits once the queue has failed.
func (q *sendQueue) run() {
	for range q.kick {
		q.mu.Lock()
		if q.handoff {
			q.handoff = false
			q.flush(false)
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
	q.space.Broadcast()
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

// wroteUpTo reports whether the bytes up to stream offset off were written.
func (q *sendQueue) wroteUpTo(off uint64) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.written >= off
}
