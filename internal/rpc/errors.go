package rpc

import (
	"errors"
	"fmt"

	"github.com/pilotage/pilotage/codegen"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("rpc: server closed")

// ErrDeploymentMismatch is wrapped by the error of a handshake with a peer
// that runs another deployment (see DialOptions.Deployment). Dial's error
// also wraps codegen.ErrUnavailable: to a Pool, such an address is
// unreachable.
var ErrDeploymentMismatch = errors.New("rpc: peer runs another deployment")

// ErrTooLarge is wrapped by the error of a call whose arguments exceed the
// server's frame limit (reported by Conn.Call, before anything is sent) or
// whose results exceed the caller's (reported by the server instead of the
// results). It is not a transport error: no other replica would do better,
// so Pool does not retry it. It keeps working with errors.Is across
// connections.
var ErrTooLarge = errors.New("rpc: message too large")

func init() {
	codegen.RegisterError("github.com/pilotage/pilotage/internal/rpc.ErrTooLarge", ErrTooLarge)
}

// errConnClosed is the cause reported for calls on a Conn closed locally.
var errConnClosed = errors.New("rpc: connection closed")

// errDraining is the cause reported for calls refused during a drain.
var errDraining = errors.New("rpc: connection draining")

// A transportError is a failure of the transport, not of the method: kind is
// codegen.ErrUnavailable (nothing ran) or codegen.ErrInterrupted (the request
// was sent, no reply came). Pool retries only these, so a method that itself
// returns an error wrapping ErrUnavailable is never retried by mistake.
type transportError struct {
	kind  error
	addr  string
	cause error
}

func (e *transportError) Error() string {
	return fmt.Sprintf("rpc %s: %v: %v", e.addr, e.kind, e.cause)
}

func (e *transportError) Unwrap() []error { return []error{e.kind, e.cause} }

func unavailable(addr string, cause error) error {
	return &transportError{kind: codegen.ErrUnavailable, addr: addr, cause: cause}
}

func interrupted(addr string, cause error) error {
	return &transportError{kind: codegen.ErrInterrupted, addr: addr, cause: cause}
}

// transportKind returns the kind of a transport error, or nil if err is not
// one (a method's own error, a context error).
func transportKind(err error) error {
	var te *transportError
	if errors.As(err, &te) {
		return te.kind
	}
	return nil
}
