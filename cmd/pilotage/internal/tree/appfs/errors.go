package appfs

import (
	"errors"
	"fmt"
	"io"
	"syscall"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// A pathError is one line for the shell, wrapping the tree sentinel of its
// kind and the control API's error it comes from.
type pathError struct {
	msg   string
	kind  error // a sentinel of package tree
	cause error // nil if none
}

func (e *pathError) Error() string { return e.msg }

func (e *pathError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

// treeError returns err, of a request of the control API made to do op at
// the tree path p, as one line wrapping the tree sentinel of its code.
func treeError(op, p string, err error) error {
	var ae *api.Error
	if !errors.As(err, &ae) {
		return fmt.Errorf("%s %s: %w", op, p, err)
	}
	switch {
	case errors.Is(err, api.ErrNotFound):
		return &pathError{msg: fmt.Sprintf("%s: %v", p, tree.ErrNotFound), kind: tree.ErrNotFound, cause: err}
	case errors.Is(err, api.ErrBadRequest):
		return &pathError{msg: fmt.Sprintf("%s %s: %s", op, p, ae.Message), kind: tree.ErrInvalid, cause: err}
	case errors.Is(err, api.ErrConflict):
		return &pathError{msg: fmt.Sprintf("%s %s: %s", op, p, ae.Message), kind: tree.ErrConflict, cause: err}
	case errors.Is(err, api.ErrUnavailable), errors.Is(err, api.ErrExpired):
		return &pathError{msg: fmt.Sprintf("%s %s: %s", op, p, ae.Message), kind: tree.ErrUnavailable, cause: err}
	}
	return fmt.Errorf("%s %s: %w", op, p, err)
}

// unreachable reports whether err says the supervisor could not be
// reached or hung up: it is gone (or going), as opposed to an answer.
func unreachable(err error) bool {
	for _, e := range []error{syscall.ECONNREFUSED, syscall.ENOENT, syscall.ECONNRESET, syscall.EPIPE,
		io.EOF, io.ErrUnexpectedEOF} {
		if errors.Is(err, e) {
			return true
		}
	}
	var ae *api.Error
	// The client's own errors have a cause; an answer's has none. A
	// stream the supervisor ended is the client's, without a cause.
	return errors.As(err, &ae) && ae.Code == api.CodeUnavailable && (errors.Unwrap(ae) != nil || ae.Message == streamEnded)
}

// streamEnded is the message of control.Watch.Next when the supervisor
// ended the stream.
const streamEnded = "control: watch: the supervisor ended the stream"

// notRunning is the error of a path into app a whose supervisor is gone.
func notRunning(a appRef) error {
	return &pathError{
		msg:  fmt.Sprintf("app %s is not running (its supervisor at %s does not answer)", a.name, a.dir),
		kind: tree.ErrUnavailable,
	}
}

// notAnswering is the error of a path into app a whose supervisor holds
// its state directory but does not answer.
func notAnswering(a appRef, err error) error {
	return &pathError{
		msg:   fmt.Sprintf("app %s does not answer (its supervisor at %s, pid %d: %v)", a.name, a.dir, a.pid, err),
		kind:  tree.ErrUnavailable,
		cause: err,
	}
}
