package telemetry

import (
	"bytes"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// An httpStream follows one direction of an HTTP/1.x connection, message
// by message: it finds each head, then skips the body its headers
// announce (a Content-Length, or chunks), so that it knows where the next
// message begins. It copies only heads.
type httpStream struct {
	state     int
	line      []byte // the head, or a chunk-size or trailer line, so far
	remaining int64  // body or chunk bytes still to come
	began     time.Time
}

const (
	stHead = iota
	stBody
	stChunkSize
	stChunkData
	stChunkEnd // the CRLF after a chunk's data
	stTrailer
	stUntilClose // a response without a length: its body ends with the connection
)

// maxHead bounds a head (net/http's default limit of 1 MiB, plus slack).
const maxHead = 1<<20 + 4<<10

// A head is what a message's head says.
type head struct {
	method, target string // of a request
	status         int    // of a response
	header         http.Header
	began          time.Time // when its first byte was seen
	length         int64     // Content-Length; -1 if none
	chunked        bool

	// Set by the callback of a response head.
	interim bool // 1xx: the final response follows
	noBody  bool // whatever the headers say
}

// feed follows b, the next bytes of the stream; request says which
// direction it is. onHead is called for each head, onEnd (if not nil) at
// the end of each message. It reports false once the bytes are not
// HTTP/1.x: the stream is then no longer followed.
func (s *httpStream) feed(b []byte, request bool, onHead func(*head), onEnd func()) bool {
	for len(b) > 0 {
		switch s.state {
		case stHead:
			if len(s.line) == 0 {
				s.began = time.Now()
			}
			old := len(s.line)
			s.line = append(s.line, b...)
			from := max(0, old-3) // the terminator may straddle reads
			i := bytes.Index(s.line[from:], []byte("\r\n\r\n"))
			if i < 0 {
				return len(s.line) <= maxHead && plausibleStart(s.line, request)
			}
			end := from + i + 4
			s.line, b = s.line[:end], b[end-old:]
			h, ok := parseHead(s.line, request)
			s.line = s.line[:0]
			if !ok {
				return false
			}
			h.began = s.began
			onHead(h)
			switch {
			case h.interim:
				continue
			case h.noBody:
				s.end(onEnd)
			case h.chunked:
				s.state = stChunkSize
			case h.length > 0:
				s.state, s.remaining = stBody, h.length
			case h.length < 0 && !request:
				s.state = stUntilClose
			default:
				s.end(onEnd)
			}
		case stBody, stChunkData:
			n := min(int64(len(b)), s.remaining)
			b, s.remaining = b[n:], s.remaining-n
			if s.remaining == 0 {
				if s.state == stBody {
					s.end(onEnd)
				} else {
					s.state, s.remaining = stChunkEnd, 2
				}
			}
		case stChunkEnd:
			n := min(int64(len(b)), s.remaining)
			b, s.remaining = b[n:], s.remaining-n
			if s.remaining == 0 {
				s.state = stChunkSize
			}
		case stChunkSize, stTrailer:
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				s.line = append(s.line, b...)
				if len(s.line) > maxHead {
					return false
				}
				return true
			}
			s.line = append(s.line, b[:i+1]...)
			b = b[i+1:]
			line := strings.TrimRight(string(s.line), "\r\n")
			s.line = s.line[:0]
			if s.state == stTrailer {
				if line == "" {
					s.end(onEnd)
				}
				continue
			}
			size, _, _ := strings.Cut(line, ";")
			n, err := strconv.ParseInt(strings.TrimSpace(size), 16, 64)
			switch {
			case err != nil || n < 0:
				return false
			case n == 0:
				s.state = stTrailer
			default:
				s.state, s.remaining = stChunkData, n
			}
		case stUntilClose:
			return true
		}
	}
	return true
}

func (s *httpStream) end(onEnd func()) {
	s.state = stHead
	if onEnd != nil {
		onEnd()
	}
}

// plausibleStart reports whether the start of a head could be HTTP/1.x:
// a request begins with a method (capitals) and a space, a response with
// "HTTP/1.". So TLS, HTTP/2's preface... are told apart within bytes.
func plausibleStart(b []byte, request bool) bool {
	if !request {
		const p = "HTTP/1."
		n := min(len(b), len(p))
		return string(b[:n]) == p[:n]
	}
	for i, c := range b {
		switch {
		case c == ' ':
			return i > 0
		case c < 'A' || c > 'Z' || i >= 16:
			return false
		}
	}
	return true
}

// parseHead parses a complete head, its final CRLF CRLF included.
func parseHead(b []byte, request bool) (*head, bool) {
	lines := strings.Split(string(b[:len(b)-4]), "\r\n")
	h := &head{header: http.Header{}, length: -1}
	first := strings.SplitN(lines[0], " ", 3)
	if request {
		if len(first) != 3 || !plausibleStart([]byte(first[0]+" "), true) || !strings.HasPrefix(first[2], "HTTP/1.") {
			return nil, false
		}
		h.method, h.target = first[0], first[1]
	} else {
		if len(first) < 2 || !strings.HasPrefix(first[0], "HTTP/1.") {
			return nil, false
		}
		code, err := strconv.Atoi(first[1])
		if err != nil || code < 100 || code > 999 {
			return nil, false
		}
		h.status = code
	}
	for _, l := range lines[1:] {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			return nil, false
		}
		h.header.Add(textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(k)), strings.TrimSpace(v))
	}
	if te := h.header.Get("Transfer-Encoding"); te != "" {
		h.chunked = strings.EqualFold(strings.TrimSpace(te[strings.LastIndex(te, ",")+1:]), "chunked")
	} else if cl := h.header.Get("Content-Length"); cl != "" {
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil || n < 0 {
			return nil, false
		}
		h.length = n
	}
	return h, true
}
