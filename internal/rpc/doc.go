// Package rpc is the transport between pilotage processes: a multiplexed,
// framed protocol over one stream connection (a Unix socket or loopback TCP),
// a Server that runs generated handlers, a client Conn and a Pool of Conns
// over the replicas of a component.
//
// # Protocol
//
// Both ends first write an 8-byte preface, "PLTG", a little-endian uint16
// version (1) and two zero bytes. The client writes first; the server checks
// the client's preface and answers with its own. A peer that speaks another
// version is disconnected.
//
// Then each side writes frames. A frame is a 16-byte header followed by a
// payload:
//
//	offset size field
//	0      1    type (frameRequest ... frameGoAway)
//	1      3    reserved, zero
//	4      4    payload length, little-endian uint32, at most the max frame size
//	8      8    call id, little-endian uint64, chosen by the client
//
// Frame types and payloads:
//
//	request  (client→server) component id (uint64, FNV-1a of the component's
//	         full name), method index (uint32), relative deadline in
//	         microseconds (uint64, 0 = none), then the encoded arguments.
//	response (server→client) the encoded results.
//	error    (server→client) the handler ran (or began to) and failed; the
//	         payload is the error written by codegen.Encoder.Error, so
//	         errors.Is keeps working across the connection.
//	reject   (server→client) the call was not run (the server is draining,
//	         the component is not registered here); same payload as error.
//	         The client reports an error wrapping codegen.ErrUnavailable,
//	         which is always safe to retry elsewhere.
//	cancel   (client→server) empty; cancels the handler's context.
//	goaway   (server→client) empty; the server is draining. Its id is the
//	         highest request id the server has read: requests above it were
//	         refused or never read, so they did not run. Calls already
//	         running finish; the client sends no new ones and reports calls
//	         cut off above that id as codegen.ErrUnavailable.
//
// A reader that meets a malformed frame (unknown type, nonzero reserved
// bytes, a length over the limit, a frame that does not belong in its
// direction) closes the connection. Lengths are checked before any buffer is
// allocated, and large payloads are read in growing chunks, so a peer cannot
// make the reader allocate memory it does not send.
//
// # Writes
//
// Writers share one send queue per connection. A writer appends its frame to
// the queue's buffer; if no flush is in progress it flushes itself, otherwise
// it leaves its frame for the flush in progress, which keeps writing until the
// queue is empty. Concurrent calls thus share write system calls, and a lone
// call pays no goroutine hand-off. Payloads of largePayload bytes or more are
// not copied: they are written with writev (net.Buffers).
package rpc
