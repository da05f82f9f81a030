// Package rpc is the transport between pilotage processes: a multiplexed,
// framed protocol over one stream connection (a Unix socket or loopback TCP),
// a Server that runs generated handlers, a client Conn and a Pool of Conns
// over the replicas of a component.
//
// # Protocol
//
// Both ends first write a preface: 13 bytes, then a deployment id:
//
//	offset size field
//	0      4    "PLTG"
//	4      2    protocol version, little-endian uint16 (5)
//	6      2    reserved, zero
//	8      4    max frame size: the largest payload this side reads,
//	            little-endian uint32, at least MinMaxFrameSize
//	12     1    n: length of the deployment id, at most MaxDeploymentLen
//	13     n    deployment id: the build this side runs (Deployment in
//	            DialOptions and ServerOptions; may be empty)
//
// The client writes first; the server checks the client's preface and
// answers with its own. The first 8 bytes are checked before the rest is
// waited for, so a peer that speaks another version (version 1 had an 8-byte
// preface, version 2 no ping, version 3 no deployment id, version 4 no
// trace context) is disconnected at
// once. Methods are dispatched by index and values encoded by layout, which
// is right only between ends of the same build: so the deployment ids must
// be equal, byte for byte. A server facing a client of another deployment
// still answers with its preface (so that the client can name the
// deployment it met), then closes the connection without reading a frame;
// the client, seeing the server's id, fails Dial with an error wrapping
// ErrDeploymentMismatch and codegen.ErrUnavailable ("the server at X runs
// deployment shop-b2; this process runs shop-a1: calls never cross
// versions"). A version or deployment is never negotiated.
//
// Then each side writes frames. A frame is a 16-byte header followed by a
// payload:
//
//	offset size field
//	0      1    type (frameRequest ... framePong)
//	1      1    flags: 1 (traced) on a request that carries a trace
//	            context, else zero
//	2      2    reserved, zero
//	4      4    payload length, little-endian uint32, at most the reader's
//	            max frame size
//	8      8    call id, little-endian uint64, chosen by the client
//
// Frame types and payloads:
//
//	request  (client→server) component id (uint64, FNV-1a of the component's
//	         full name), method index (uint32), relative deadline in
//	         microseconds (uint64, 0 = none), if traced the caller's
//	         OpenTelemetry span context (trace id, span id, trace flags:
//	         25 bytes; see tracectx.go), then the encoded arguments. The
//	         server runs the handler under a context whose remote span
//	         context is the caller's.
//	response (server→client) the encoded results.
//	error    (server→client) the handler ran (or began to) and failed; the
//	         payload is the error written by codegen.Encoder.Error, so
//	         errors.Is keeps working across the connection.
//	reject   (server→client) the call was not run (the server is draining,
//	         the component is not registered here); same payload as error.
//	         The client reports an error wrapping codegen.ErrUnavailable,
//	         which is always safe to retry elsewhere.
//	cancel   (client→server) empty; cancels the handler's context.
//	goaway   (server→client) empty; the server is draining. Its id field is
//	         not a call id but a stream offset: the number of bytes of frames
//	         (after the preface) the client had sent up to the end of the last
//	         request the server accepted. Requests ending past it were refused
//	         or never read, so they did not run. (An offset rather than the
//	         highest id read, because ids are chosen before frames are queued
//	         and so do not follow stream order.) Calls already running
//	         finish; the client sends no new ones and reports calls cut off
//	         past that offset as codegen.ErrUnavailable.
//	ping     (client→server) empty; the id field is opaque. The server's
//	         reader answers at once (within about a millisecond: see
//	         Server and handlers), whatever its handlers are doing.
//	pong     (server→client) empty; the id of the ping it answers.
//
// # Limits
//
// Each side reads frames of up to its own max frame size (MaxFrameSize in
// DialOptions and ServerOptions, DefaultMaxFrameSize by default) and, having
// learnt the peer's from its preface, never sends it a larger one. A call
// whose request would exceed the server's limit fails in Conn.Call before
// anything is sent; results over the client's limit are replaced by an error
// frame ("results of X method M are N bytes, over the caller's limit of L"),
// and so is an error message over it. Both errors wrap ErrTooLarge, which is
// not a transport error: the connection and the other calls on it carry on,
// and Pool does not retry such a call elsewhere.
//
// A reader that meets a malformed frame (unknown type, nonzero reserved
// bytes, a length over the limit, a frame that does not belong in its
// direction) closes the connection.
//
// A peer cannot make the other side hold memory it did not send. Lengths are
// checked before any buffer is allocated, and a payload's buffer grows with
// the bytes that arrive, not with the length its header claims: a payload
// already buffered whole, or of at most 4 KiB, is read into one allocation;
// a larger one is staged in pooled chunks (from 4 KiB, doubling) until half
// of it has arrived, then read into one buffer of its size, so no buffer is
// larger than twice the bytes received plus 4 KiB. A connection
// has no read buffer (64 KiB) until its handshake is done: one that never
// completes it costs a few KiB, for at most HandshakeTimeout
// (DefaultHandshakeTimeout, 5s, by default; it also bounds Dial). Once a
// frame's first byte has arrived, each of its next bytes must arrive within
// FrameTimeout (DefaultFrameTimeout, 10s, by default, on both sides), or the
// connection is closed: a peer that stops in the middle of a frame does not
// hold the connection. The wait for a frame to begin is not bounded: an idle
// connection stays open as long as both ends like.
//
// # Keepalive
//
// A client Conn with calls in flight (or a reply partly read) that has read
// nothing from the server for KeepaliveInterval (DefaultKeepaliveInterval,
// 1s) sends a ping. The server's reader answers with a pong at once, so a
// slow handler keeps its connection alive however long it runs. Any byte
// from the server answers a ping. If nothing arrives within KeepaliveTimeout
// (DefaultKeepaliveTimeout, 2s) of the ping being written, the server is
// taken for frozen (a stopped or wedged process, a link gone silent) and the
// Conn dies with "server unresponsive: no reply to a ping within 2s": calls
// whose request was sent fail with codegen.ErrInterrupted (Pool retries them
// elsewhere if idempotent), the others with codegen.ErrUnavailable. The
// clock starts when the ping was written, not queued, so a large request
// still being written to a server that reads it slowly is not mistaken for a
// frozen server; a server that reads nothing at all is caught by the write
// timeout instead. A Conn with nothing in flight sends no pings.
//
// # Server and handlers
//
// A Server runs its connections' readers and its handlers on goroutines it
// reuses (they keep their grown stacks), starting one only when none is
// idle, so calls run as concurrently as with a goroutine each. Having read
// a request, a reader hands the reading on to another goroutine and runs
// the handler itself, so the call starts without waiting for a goroutine
// to be woken; and when the call is the connection's only one in flight
// and nothing more has arrived, it runs the handler and reads on after it,
// so a lone call costs no hand-off at all, while a watchdog hands the
// reading on should the handler take more than a millisecond (cancels,
// pings and other calls wait for it at most about that long).
//
// Arguments of 4 KiB or more (codegen.MinAliased) are read into memory of
// their own, which the handler keeps: generated code decodes large byte
// slices and strings as parts of it rather than copies (see
// codegen.Decoder.ResetOwned), and so does the client with its results,
// each read into memory of its own.
//
// # Writes
//
// Writers share one send queue per connection. A writer appends its frame to
// the queue's buffer; if no flush is in progress it flushes itself, otherwise
// it leaves its frame for the flush in progress, which keeps writing until the
// queue is empty. Concurrent calls thus share write system calls, and a lone
// call pays no goroutine hand-off. Payloads of 64 KiB or more are not
// copied: they are written with writev (net.Buffers), and so are a
// handler's results that refer to large values (codegen.Encoder.ReferLarge).
// (Below 64 KiB, copying into the send buffer measured 2-3% faster than
// writev at 10 KiB.)
//
// A peer that stops reading must not hold up callers or memory:
//
//   - A writer flushing from its own call blocks in a write for at most
//     inlineWriteSlice (20ms, by write deadline); then the connection's
//     writer goroutine carries on from where the write stopped and the
//     caller goes back to waiting for its reply or its context. So a call
//     may overrun its deadline by up to that much, no more.
//   - A call whose context ends returns at once. If its uncopied arguments
//     are still queued, the queue copies them first (interrupting a write in
//     progress if need be), so the caller may reuse them; the request is
//     still sent, and a reply to it is ignored.
//   - Each flush (batch of frames) must be written within WriteTimeout
//     (DefaultWriteTimeout by default); otherwise the connection is closed.
//     Calls whose request was sent whole fail with codegen.ErrInterrupted,
//     the others with codegen.ErrUnavailable.
//   - The bytes queued but not yet written are bounded by MaxQueuedBytes
//     (DefaultMaxQueuedBytes, and at least twice the peer's max frame size,
//     by default). Past it a client call fails at once with an error wrapping
//     codegen.ErrUnavailable (nothing was sent), while a server's handler
//     waits for room before its results are queued. An empty queue takes a
//     frame of any size.
//
// # Shutdown
//
// Server.Shutdown sends goaway on each connection, waits for the running
// handlers, then stops the connection's reader (so that every request it read
// has been answered or refused), waits for the send queue to be written out,
// shuts down the write side and waits briefly for the client to close before
// closing: the client thus reads every reply and refusal, and reports only
// requests past the goaway offset that were never read as unavailable.
//
// # Policies
//
// A Server bounds the calls in flight to each component
// (ServerOptions.MaxInFlight; adaptive by default, see
// resilience.Limiter) and answers a request over the bound with a reject
// frame carrying codegen.ErrOverloaded, so the client reports
// codegen.ErrUnavailable and a Pool retries elsewhere. A Pool ejects a
// replica whose calls keep failing in transport or timing out
// (PoolOptions.Ejection), probes it back in with one call, fails calls at
// once with codegen.ErrCircuitOpen while all its replicas are ejected, and
// retries only within a budget (PoolOptions.RetryBudget). The policies'
// logic is package resilience; shed.go and breaker.go apply it.
package rpc
