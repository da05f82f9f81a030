package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// A Code says what kind of failure an error is. Clients decide on it, not
// on the message.
type Code string

// The codes of the API, each answered with its HTTP status.
const (
	CodeNotFound    Code = "not_found"   // 404: no resource at the path, no such name or log source
	CodeBadRequest  Code = "bad_request" // 400: a malformed path or parameter, an action the resource does not accept, an ambiguous name
	CodeConflict    Code = "conflict"    // 409: the resource's state forbids the action now (a restart is under way)
	CodeExpired     Code = "expired"     // 410: a watch from a resource version the supervisor no longer remembers: list again
	CodeUnavailable Code = "unavailable" // 503: the supervisor is shutting down, or cannot serve this now
	CodeInternal    Code = "internal"    // 500: a failure of the supervisor
)

// An Error is a failure with a code. errors.Is(err, ErrNotFound) holds for
// every *Error of code CodeNotFound, and likewise for the other codes, so
// that an error decoded from an answer, or one a backend made with
// Errorf, is tested against the sentinel of its code. A code this package
// does not know matches no sentinel.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	err     error  // the cause, if made with Errorf and %w
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the cause of e, if any.
func (e *Error) Unwrap() error { return e.err }

// Is reports whether target is the sentinel of e's code.
func (e *Error) Is(target error) bool {
	s, ok := sentinels[e.Code]
	return ok && target == s
}

// The sentinels of the codes, for errors.Is.
var (
	ErrNotFound    = &Error{Code: CodeNotFound, Message: "not found"}
	ErrBadRequest  = &Error{Code: CodeBadRequest, Message: "bad request"}
	ErrConflict    = &Error{Code: CodeConflict, Message: "conflict"}
	ErrExpired     = &Error{Code: CodeExpired, Message: "resource version expired"}
	ErrUnavailable = &Error{Code: CodeUnavailable, Message: "unavailable"}
	ErrInternal    = &Error{Code: CodeInternal, Message: "internal error"}
)

var sentinels = map[Code]*Error{
	CodeNotFound:    ErrNotFound,
	CodeBadRequest:  ErrBadRequest,
	CodeConflict:    ErrConflict,
	CodeExpired:     ErrExpired,
	CodeUnavailable: ErrUnavailable,
	CodeInternal:    ErrInternal,
}

var statuses = map[Code]int{
	CodeNotFound:    http.StatusNotFound,
	CodeBadRequest:  http.StatusBadRequest,
	CodeConflict:    http.StatusConflict,
	CodeExpired:     http.StatusGone,
	CodeUnavailable: http.StatusServiceUnavailable,
	CodeInternal:    http.StatusInternalServerError,
}

// Errorf returns an *Error of code whose message is fmt.Sprintf(format,
// args...); a %w verb makes its operand the error's cause, as with
// fmt.Errorf.
func Errorf(code Code, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &Error{Code: code, Message: err.Error(), err: errors.Unwrap(err)}
}

// Wrap returns an *Error of code with message msg and cause err, for a
// message that says what err means in other words than err's own.
func Wrap(code Code, msg string, err error) *Error { return &Error{Code: code, Message: msg, err: err} }

// NewError returns an *Error of code with message msg and no cause, for
// sentinels of a finer meaning ("no such component") that must still
// match their code's.
func NewError(code Code, msg string) *Error { return &Error{Code: code, Message: msg} }

// CodeOf returns the code of err: that of the first *Error in its chain,
// CodeUnavailable for a context that ended, else CodeInternal.
func CodeOf(err error) Code {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e.Code
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return CodeUnavailable
	}
	return CodeInternal
}

// HTTPStatus returns the HTTP status a failure of code is answered with
// (500 for a code this package does not know).
func HTTPStatus(code Code) int {
	if s, ok := statuses[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// CodeForStatus returns the code of an answer with HTTP status s that has
// no ErrorBody (an older supervisor, a proxy in between).
func CodeForStatus(s int) Code {
	for c, st := range statuses {
		if st == s {
			return c
		}
	}
	if s >= 500 {
		return CodeInternal
	}
	return CodeBadRequest
}

// ErrorBody is the JSON body of a failed request, and the Error of an
// ERROR event.
type ErrorBody struct {
	Error *Error `json:"error"`
}
