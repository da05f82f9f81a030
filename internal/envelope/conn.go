package envelope

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
)

// A Side is one end of the protocol.
type Side int

const (
	// Runtime is the application binary's end (internal/proclet).
	Runtime Side = iota + 1
	// Deployer is the end of whatever started the binary.
	Deployer
)

func (s Side) String() string {
	switch s {
	case Runtime:
		return "runtime"
	case Deployer:
		return "deployer"
	}
	return fmt.Sprintf("Side(%d)", int(s))
}

func (s Side) peer() Side {
	if s == Runtime {
		return Deployer
	}
	return Runtime
}

// ErrMismatch is wrapped by the error of a peer that speaks another
// protocol version, or sends a message type this side does not know.
var ErrMismatch = errors.New("envelope protocol mismatch")

// A Conn sends and receives the messages of one side. Send may be called
// from several goroutines at once; Receive from one at a time.
type Conn struct {
	rw   io.ReadWriteCloser
	self Side
	sc   *bufio.Scanner

	greeted bool // the peer's first message was received

	wmu sync.Mutex // serializes writes
}

// NewConn returns the Conn of side self over rw.
func NewConn(rw io.ReadWriteCloser, self Side) *Conn {
	sc := bufio.NewScanner(rw)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineSize+1) // +1: the newline
	return &Conn{rw: rw, self: self, sc: sc}
}

// Send writes m as one line. Init and Hello get ProtocolVersion.
func (c *Conn) Send(m Message) error {
	switch v := m.(type) {
	case Init:
		v.Protocol = ProtocolVersion
		m = v
	case Hello:
		v.Protocol = ProtocolVersion
		m = v
	}
	line, err := marshal(m)
	if err != nil {
		return fmt.Errorf("envelope: send %s: %w", m.MessageType(), err)
	}
	if len(line) > MaxLineSize {
		return fmt.Errorf("envelope: send %s: %d bytes exceed the limit of %d", m.MessageType(), len(line), MaxLineSize)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if _, err := c.rw.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("envelope: send %s: %w", m.MessageType(), err)
	}
	return nil
}

// marshal encodes m as a JSON object whose first field is its type.
func marshal(m Message) ([]byte, error) {
	body, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if len(body) < 2 || body[0] != '{' {
		return nil, fmt.Errorf("%T does not encode as a JSON object", m)
	}
	typ, err := json.Marshal(m.MessageType())
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Grow(len(body) + len(typ) + 10)
	b.WriteString(`{"type":`)
	b.Write(typ)
	if len(body) > 2 { // not "{}"
		b.WriteByte(',')
	}
	b.Write(body[1:])
	return b.Bytes(), nil
}

// Receive returns the peer's next message, or io.EOF once the peer closed
// the socket. The peer's first message must be its greeting (Init from a
// deployer, Hello from a runtime) with this ProtocolVersion; a runtime may
// instead send Failed, to say why it refuses the Init. Any other error is
// a protocol violation, after which the Conn is unusable: a version
// mismatch or a message type this side does not know (both wrapping
// ErrMismatch, saying what to upgrade), a line longer than MaxLineSize, or
// malformed JSON.
func (c *Conn) Receive() (Message, error) {
	if !c.sc.Scan() {
		err := c.sc.Err()
		switch {
		case err == nil:
			return nil, io.EOF
		case errors.Is(err, bufio.ErrTooLong):
			return nil, fmt.Errorf("envelope: a message from the %s is longer than %d bytes", c.self.peer(), MaxLineSize)
		}
		return nil, fmt.Errorf("envelope: receive: %w", err)
	}
	line := c.sc.Bytes()
	var head struct {
		Type     string `json:"type"`
		Protocol int    `json:"protocol"`
	}
	if err := json.Unmarshal(line, &head); err != nil {
		return nil, fmt.Errorf("envelope: bad message from the %s: %w", c.self.peer(), err)
	}
	if !c.greeted {
		if err := c.checkGreeting(head.Type, head.Protocol); err != nil {
			return nil, err
		}
		// A Failed sent before Hello does not greet: a Hello after it is
		// still checked.
		c.greeted = head.Type != TypeFailed
	}
	dec, ok := decoders[c.self][head.Type]
	if !ok {
		return nil, fmt.Errorf("%w: the %s sent a message of unknown type %q: %s", ErrMismatch, c.self.peer(), head.Type, c.upgradeAdvice(true))
	}
	m, err := dec(line)
	if err != nil {
		return nil, fmt.Errorf("envelope: bad %s message from the %s: %w", head.Type, c.self.peer(), err)
	}
	return m, nil
}

// checkGreeting checks the peer's first message.
func (c *Conn) checkGreeting(typ string, protocol int) error {
	want := TypeInit
	if c.self == Deployer {
		want = TypeHello
		if typ == TypeFailed {
			return nil // the runtime failed before its Hello, or refused the Init
		}
	}
	if typ != want {
		if _, known := decoders[c.self][typ]; !known {
			return fmt.Errorf("%w: the %s's first message has unknown type %q: %s", ErrMismatch, c.self.peer(), typ, c.upgradeAdvice(true))
		}
		return fmt.Errorf("envelope: the %s's first message is %q, want %q", c.self.peer(), typ, want)
	}
	return VersionError(c.self, protocol)
}

// VersionError returns nil if peerVersion is ProtocolVersion, else the
// error (wrapping ErrMismatch) that side self reports: both versions, and
// what to upgrade.
func VersionError(self Side, peerVersion int) error {
	if peerVersion == ProtocolVersion {
		return nil
	}
	c := Conn{self: self}
	return fmt.Errorf("%w: %s; %s", ErrMismatch, c.versions(peerVersion), c.upgradeAdvice(peerVersion > ProtocolVersion))
}

// versions names both ends' protocol versions.
func (c *Conn) versions(peer int) string {
	if c.self == Runtime {
		return fmt.Sprintf("the deployer (the pilotage command) speaks envelope protocol %d, this app's github.com/pilotage/pilotage module speaks %d", peer, ProtocolVersion)
	}
	return fmt.Sprintf("the app (built with github.com/pilotage/pilotage) speaks envelope protocol %d, this pilotage command speaks %d", peer, ProtocolVersion)
}

// upgradeAdvice says what to upgrade when the peer is newer (or older).
func (c *Conn) upgradeAdvice(peerNewer bool) string {
	const upgradeModule = "upgrade the app's github.com/pilotage/pilotage module to the pilotage command's version (go get github.com/pilotage/pilotage@<version>) and rebuild the app"
	const upgradeCommand = "upgrade the pilotage command to the version of the app's github.com/pilotage/pilotage module (go install github.com/pilotage/pilotage/cmd/pilotage@<version>)"
	if (c.self == Runtime) == peerNewer {
		return upgradeModule
	}
	return upgradeCommand
}

// Close closes the socket; the peer's Receive returns io.EOF.
func (c *Conn) Close() error { return c.rw.Close() }
