package kubefs

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// A pathError is a failure at a path, said in one line: the path, then
// what went wrong. It matches the tree sentinel of its kind (errors.Is)
// and its cause (errors.As finds an API server's status in it).
type pathError struct {
	path string
	msg  string
	kind error // a tree sentinel, or nil
	err  error // the cause, or nil
}

func (e *pathError) Error() string { return e.path + ": " + e.msg }

// Unwrap returns the kind and the cause of e.
func (e *pathError) Unwrap() []error {
	var errs []error
	for _, err := range []error{e.kind, e.err} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// errorf returns a pathError of kind for path.
func errorf(path string, kind error, msg string) error {
	return &pathError{path: path, msg: oneLine(msg), kind: kind}
}

// apiError maps err, from a request to the API server at server about
// path, to a pathError of the tree sentinel that fits: 409 is a conflict,
// 400 and 422 an invalid value, 401 and 403 forbidden, 404 not found, and
// a server that does not answer unavailable.
func apiError(path, server string, err error) error {
	if err == nil {
		return nil
	}
	var pe *pathError
	if errors.As(err, &pe) {
		return err
	}
	msg := err.Error()
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Message != "" {
		msg = status.Status().Message
	}
	var kind error
	switch {
	case errors.Is(err, context.Canceled):
		kind = nil
	case apierrors.IsConflict(err):
		kind = tree.ErrConflict
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		kind = tree.ErrInvalid
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err):
		kind = tree.ErrForbidden
	case apierrors.IsNotFound(err):
		kind = tree.ErrNotFound
	case unreachable(err):
		kind = tree.ErrUnavailable
		msg = "cannot reach " + server + ": " + transportMessage(err)
	case apierrors.IsTimeout(err), apierrors.IsServerTimeout(err),
		apierrors.IsServiceUnavailable(err), apierrors.IsTooManyRequests(err):
		kind = tree.ErrUnavailable
		msg = server + ": " + msg
	}
	return &pathError{path: path, msg: oneLine(msg), kind: kind, err: err}
}

// unreachable reports whether err says the server did not answer: a
// refused connection, a timeout, a dial failure.
func unreachable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return false // the server answered
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr)
}

// transportMessage returns what failed below HTTP, without the request
// line a *url.Error prepends (`Get "https://...": `).
func transportMessage(err error) string {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return urlErr.Err.Error()
	}
	return err.Error()
}

// oneLine joins the lines of msg, so that every error is one line.
func oneLine(msg string) string {
	if !strings.ContainsAny(msg, "\r\n") {
		return msg
	}
	var lines []string
	for _, l := range strings.FieldsFunc(msg, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "; ")
}
