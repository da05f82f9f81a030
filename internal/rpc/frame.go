package rpc

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"time"
)

// Frame types. Zero is never valid, so a zeroed header is rejected.
const (
	frameRequest  byte = 1
	frameResponse byte = 2
	frameError    byte = 3
	frameReject   byte = 4
	frameCancel   byte = 5
	frameGoAway   byte = 6
	framePing     byte = 7
	framePong     byte = 8
)

const (
	headerLen     = 16
	requestPrefix = 20 // component id, method, deadline

	// DefaultMaxFrameSize bounds a frame's payload unless options say otherwise.
	DefaultMaxFrameSize = 64 << 20
	// MinMaxFrameSize is the smallest frame limit a peer may announce; smaller
	// MaxFrameSize options are raised to it.
	MinMaxFrameSize = 1 << 10
	// MaxMaxFrameSize is the largest frame limit the length field can express;
	// larger MaxFrameSize options are lowered to it.
	MaxMaxFrameSize = math.MaxUint32

	// Version 5: a request may carry the caller's trace context (see
	// flagTraced), which a version 4 reader would refuse.
	protocolVersion = 5
	prefaceLen      = 13 // the fixed part, before the deployment id
	prefaceHead     = 8  // magic and version: enough to reject another version

	// MaxDeploymentLen is the longest deployment id (DialOptions.Deployment,
	// ServerOptions.Deployment) the preface can carry, in bytes.
	MaxDeploymentLen = 255

	// A payload at least this large is written from the caller's memory with
	// writev instead of being copied into the send buffer.
	largePayload = 64 << 10
	// The smallest buffer a payload not yet buffered whole is read into; it
	// then doubles as the payload's bytes arrive, so a lying length costs the
	// liar, not us.
	minPayloadAlloc = 4 << 10
)

// DefaultHandshakeTimeout bounds connecting and the exchange of prefaces
// unless options say otherwise.
const DefaultHandshakeTimeout = 5 * time.Second

// errProtocol is wrapped by every error caused by malformed input.
var errProtocol = errors.New("rpc: protocol error")

type header struct {
	typ   byte
	flags byte   // of a request: flagTraced or 0
	n     int    // payload length
	id    uint64 // call id
}

func putHeader(b *[headerLen]byte, typ byte, n int, id uint64) {
	b[0], b[1], b[2], b[3] = typ, 0, 0, 0
	binary.LittleEndian.PutUint32(b[4:], uint32(n))
	binary.LittleEndian.PutUint64(b[8:], id)
}

// parseHeader validates b; max is the largest payload accepted.
func parseHeader(b []byte, max int) (header, error) {
	h := header{typ: b[0], flags: b[1], n: int(binary.LittleEndian.Uint32(b[4:])), id: binary.LittleEndian.Uint64(b[8:])}
	if h.typ < frameRequest || h.typ > framePong {
		return h, fmt.Errorf("%w: unknown frame type %d", errProtocol, h.typ)
	}
	if h.flags != 0 && (h.typ != frameRequest || h.flags != flagTraced) {
		return h, fmt.Errorf("%w: flags %#x on a frame of type %d", errProtocol, h.flags, h.typ)
	}
	if b[2]|b[3] != 0 {
		return h, fmt.Errorf("%w: nonzero reserved header bytes", errProtocol)
	}
	if h.n > max || h.n < 0 {
		return h, fmt.Errorf("%w: frame of %d bytes exceeds limit of %d", errProtocol, h.n, max)
	}
	return h, nil
}

// readHeader reads and validates one frame header.
func readHeader(r *bufio.Reader, max int) (header, error) {
	// Peek avoids copying; the bytes stay valid until the Discard.
	b, err := r.Peek(headerLen)
	if err != nil {
		if err == io.EOF && len(b) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return header{}, err
	}
	h, err := parseHeader(b, max)
	if err != nil {
		return h, err
	}
	_, err = r.Discard(headerLen)
	return h, err
}

// readPayload reads n bytes into buf (reused when its capacity suffices).
// Otherwise memory grows only as data arrives: a payload already buffered
// whole, or of at most minPayloadAlloc bytes, takes one allocation; a larger
// one is staged in pooled chunks (of minPayloadAlloc bytes, doubling) until
// half of it has arrived, then read on into one buffer of its size. So no
// buffer is larger than twice the bytes received plus minPayloadAlloc (the
// chunks hold only bytes received, and go back to their pool), and a large
// payload costs one allocation, its own, and copying half of it once.
func readPayload(r *bufio.Reader, n int, buf []byte) ([]byte, error) {
	if n > cap(buf) && n <= r.Buffered() {
		// Copied out of the read buffer into memory that need not be
		// zeroed first, as make's would be.
		p, _ := r.Peek(n) // buffered: cannot fail
		buf = append([]byte(nil), p...)
		_, err := r.Discard(n)
		return buf, err
	}
	if n <= cap(buf) || n <= max(r.Buffered(), minPayloadAlloc) {
		if n > cap(buf) {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, unexpected(err)
		}
		return buf, nil
	}
	var backing [16]*chunk
	staged := backing[:0]
	got := 0
	for class := firstChunkClass(r.Buffered()); got < n/2; class = min(class+1, maxChunkClass) {
		c := getChunk(class)
		staged = append(staged, c)
		m, err := io.ReadFull(r, c.b[:min(len(c.b), n-got)])
		c.n = m
		got += m
		if err != nil {
			putChunks(staged)
			return nil, unexpected(err)
		}
	}
	buf = make([]byte, n)
	off := 0
	for _, c := range staged {
		off += copy(buf[off:], c.b[:c.n])
	}
	putChunks(staged)
	if _, err := io.ReadFull(r, buf[got:]); err != nil {
		return nil, unexpected(err)
	}
	return buf, nil
}

// Chunks stage a payload that has not yet arrived: class i holds
// minPayloadAlloc<<i bytes.
const maxChunkClass = 6 // 256 KiB

type chunk struct {
	b     []byte
	n     int // bytes staged in b
	class int
}

var chunkPools [maxChunkClass + 1]sync.Pool

// firstChunkClass is the class of the first chunk, which takes the bytes
// already buffered.
func firstChunkClass(buffered int) int {
	class := 0
	for class < maxChunkClass && minPayloadAlloc<<class < buffered {
		class++
	}
	return class
}

func putChunks(staged []*chunk) {
	for _, c := range staged {
		chunkPools[c.class].Put(c)
	}
}

func getChunk(class int) *chunk {
	if c, ok := chunkPools[class].Get().(*chunk); ok {
		c.n = 0
		return c
	}
	return &chunk{b: make([]byte, minPayloadAlloc<<class), class: class}
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// request is the decoded prefix of a request payload.
type request struct {
	component uint64
	method    uint32
	deadline  uint64 // microseconds from receipt; 0 = none
	args      []byte
}

func putRequestPrefix(b []byte, component uint64, method uint32, deadline uint64) {
	binary.LittleEndian.PutUint64(b[0:], component)
	binary.LittleEndian.PutUint32(b[8:], method)
	binary.LittleEndian.PutUint64(b[12:], deadline)
}

func parseRequest(p []byte) (request, error) {
	if len(p) < requestPrefix {
		return request{}, fmt.Errorf("%w: request payload of %d bytes is shorter than its %d-byte prefix", errProtocol, len(p), requestPrefix)
	}
	return request{
		component: binary.LittleEndian.Uint64(p[0:]),
		method:    binary.LittleEndian.Uint32(p[8:]),
		deadline:  binary.LittleEndian.Uint64(p[12:]),
		args:      p[requestPrefix:],
	}, nil
}

// ComponentID is the id a request names a component by: the 64-bit FNV-1a
// hash of its full name.
func ComponentID(name string) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(name); i++ {
		h ^= uint64(name[i])
		h *= prime
	}
	return h
}

// clampFrameSize applies the defaults and bounds of a MaxFrameSize option.
func clampFrameSize(n int) int {
	if n <= 0 {
		return DefaultMaxFrameSize
	}
	return min(max(n, MinMaxFrameSize), MaxMaxFrameSize)
}

// encodePreface returns the handshake preface announcing maxFrame, the
// largest payload this side accepts, and deployment, the build it runs
// (at most MaxDeploymentLen bytes; checkDeployment says so beforehand).
func encodePreface(maxFrame int, deployment string) []byte {
	p := make([]byte, prefaceLen, prefaceLen+len(deployment))
	copy(p, "PLTG")
	binary.LittleEndian.PutUint16(p[4:], protocolVersion)
	binary.LittleEndian.PutUint32(p[8:], uint32(maxFrame))
	p[12] = byte(len(deployment))
	return append(p, deployment...)
}

// A peerPreface is what the peer announced in its preface.
type peerPreface struct {
	maxFrame   int    // the largest payload it reads
	deployment string // the deployment it runs
}

// readPreface reads the peer's preface. It checks the magic and version
// before waiting for the rest, so a peer of another version is refused at
// once rather than waited for. It never reads past the preface, so r needs
// no buffer: the peer sends nothing more before it has our preface.
func readPreface(r io.Reader) (peerPreface, error) {
	var p [prefaceLen + MaxDeploymentLen]byte
	n, err := io.ReadAtLeast(r, p[:prefaceLen], prefaceHead)
	if err != nil {
		return peerPreface{}, err
	}
	if err := checkPrefaceHead(p[:prefaceHead]); err != nil {
		return peerPreface{}, err
	}
	if _, err := io.ReadFull(r, p[n:prefaceLen]); err != nil {
		return peerPreface{}, unexpected(err)
	}
	maxFrame, depLen, err := checkPreface(p[:prefaceLen])
	if err != nil {
		return peerPreface{}, err
	}
	dep := p[prefaceLen : prefaceLen+depLen]
	if _, err := io.ReadFull(r, dep); err != nil {
		return peerPreface{}, unexpected(err)
	}
	return peerPreface{maxFrame: maxFrame, deployment: string(dep)}, nil
}

func checkPrefaceHead(p []byte) error {
	if string(p[:4]) != "PLTG" {
		return fmt.Errorf("%w: bad preface %q: peer does not speak the pilotage protocol", errProtocol, p)
	}
	if v := binary.LittleEndian.Uint16(p[4:]); v != protocolVersion {
		return fmt.Errorf("%w: peer speaks protocol version %d, want %d", errProtocol, v, protocolVersion)
	}
	if p[6]|p[7] != 0 {
		return fmt.Errorf("%w: nonzero reserved preface bytes", errProtocol)
	}
	return nil
}

// checkPreface validates the fixed part of a preface and returns the peer's
// frame limit and the length of the deployment id that follows.
func checkPreface(p []byte) (maxFrame, deploymentLen int, err error) {
	if err := checkPrefaceHead(p); err != nil {
		return 0, 0, err
	}
	n := int(binary.LittleEndian.Uint32(p[8:]))
	if n < MinMaxFrameSize {
		return 0, 0, fmt.Errorf("%w: peer announces a frame limit of %d bytes, below the minimum of %d", errProtocol, n, MinMaxFrameSize)
	}
	return n, int(p[12]), nil
}

// checkDeployment validates a Deployment option (field names the option).
func checkDeployment(field, deployment string) error {
	if len(deployment) > MaxDeploymentLen {
		return fmt.Errorf("rpc: %s is %d bytes, over the limit of %d", field, len(deployment), MaxDeploymentLen)
	}
	return nil
}

// deploymentMismatch is the error of a handshake with a peer of another
// deployment: calls are dispatched by method index and values encoded by
// layout, which is right only between ends of the same build.
func deploymentMismatch(peerRole, peerAddr, peerDeployment, self, ours string) error {
	return &mismatchError{fmt.Sprintf("the %s at %s runs deployment %s; %s runs %s: calls never cross versions",
		peerRole, peerAddr, deploymentName(peerDeployment), self, deploymentName(ours))}
}

// A mismatchError reads as a sentence and matches ErrDeploymentMismatch.
type mismatchError struct{ msg string }

func (e *mismatchError) Error() string        { return e.msg }
func (e *mismatchError) Is(target error) bool { return target == ErrDeploymentMismatch }

func deploymentName(d string) string {
	if d == "" {
		return `"" (none set)`
	}
	return d
}
