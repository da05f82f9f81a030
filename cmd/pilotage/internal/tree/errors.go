package tree

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// The sentinels an FS's errors wrap. The shell exits with ExitNotFound for
// ErrNotFound, ExitError for the others.
var (
	ErrNotFound     = errors.New("no such path")
	ErrNotSupported = errors.New("not supported here")
	ErrConflict     = errors.New("changed meanwhile")
	ErrInvalid      = errors.New("invalid")
	ErrForbidden    = errors.New("forbidden")
	ErrUnavailable  = errors.New("unavailable")
)

// NotFound returns an error wrapping ErrNotFound that names path.
func NotFound(path string) error { return fmt.Errorf("%s: %w", path, ErrNotFound) }

// NotSupported returns an error wrapping ErrNotSupported that says what
// cannot be done at path.
func NotSupported(what, path string) error {
	return fmt.Errorf("cannot %s %s: %w", what, path, ErrNotSupported)
}

// Unsupported implements every method of FS with an error wrapping
// ErrNotSupported; an FS embeds it and overrides what it supports.
type Unsupported struct{}

func (Unsupported) Stat(_ context.Context, p string) (Node, error) { return Node{}, NotFound(p) }
func (Unsupported) List(_ context.Context, p string) ([]Node, error) {
	return nil, NotSupported("list", p)
}
func (Unsupported) Watch(_ context.Context, p string, _ func(Event)) error {
	return NotSupported("watch", p)
}
func (Unsupported) Read(_ context.Context, p string, _ ReadOptions) (Content, error) {
	return Content{}, NotSupported("read", p)
}
func (Unsupported) Write(_ context.Context, p string, _ json.RawMessage, _ string) (string, error) {
	return "", NotSupported("write", p)
}
func (Unsupported) Remove(_ context.Context, p string) error { return NotSupported("remove", p) }
func (Unsupported) Act(_ context.Context, p, action string) (string, error) {
	return "", NotSupported(action, p)
}
func (Unsupported) Logs(_ context.Context, p string, _ LogOptions, _ func(LogLine) error) error {
	return NotSupported("show logs of", p)
}
func (Unsupported) Exec(_ context.Context, p string, _ ExecRequest) (int, error) {
	return 0, NotSupported("exec in", p)
}
func (Unsupported) Call(_ context.Context, p, _ string, _ json.RawMessage) (json.RawMessage, error) {
	return nil, NotSupported("call", p)
}
