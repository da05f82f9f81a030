package coord

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pilotage/pilotage/codegen"
)

// Errors. Each is matched with errors.Is; the returned error wraps it with
// the name or key and the reason.
var (
	// ErrInvalid: an empty, oversized or malformed name or key, a value
	// over MaxValueSize, or a config value that does not decode into the
	// type registered for its key.
	ErrInvalid = errors.New("coord: invalid argument")
	// ErrNotFound: Get of a key that does not exist.
	ErrNotFound = errors.New("coord: not found")
	// ErrConflict: CompareAndSwap found another revision (the error is a
	// *ConflictError carrying the current one).
	ErrConflict = errors.New("coord: revision conflict")
	// ErrLocked: TryLock of a lock someone else holds.
	ErrLocked = errors.New("coord: locked")
	// ErrNotHeld: Unlock, Resign or a fenced write of a lock or leadership
	// already released or lost.
	ErrNotHeld = errors.New("coord: not held")
	// ErrFenced: a fenced write whose lock or leadership was lost; the
	// write changed nothing.
	ErrFenced = errors.New("coord: fenced out")
	// ErrNoLeader: Leader of an election nobody holds.
	ErrNoLeader = errors.New("coord: no leader")
	// ErrUnavailable: the store could not be reached before the caller's
	// deadline (or Options.DialTimeout).
	ErrUnavailable = errors.New("coord: store unavailable")
	// ErrClosed: the Store was closed.
	ErrClosed = errors.New("coord: store closed")
	// ErrCompacted: Watch from a revision the store no longer keeps.
	ErrCompacted = errors.New("coord: revision compacted")
)

// The errors keep their identity across processes: a component's caller
// matches them with errors.Is as in one process.
func init() {
	for name, err := range map[string]error{
		"ErrInvalid": ErrInvalid, "ErrNotFound": ErrNotFound, "ErrConflict": ErrConflict,
		"ErrLocked": ErrLocked, "ErrNotHeld": ErrNotHeld, "ErrFenced": ErrFenced,
		"ErrNoLeader": ErrNoLeader, "ErrUnavailable": ErrUnavailable, "ErrClosed": ErrClosed,
		"ErrCompacted": ErrCompacted,
	} {
		codegen.RegisterError("github.com/pilotage/pilotage/coord."+name, err)
	}
}

// Limits checked before anything is sent (ErrInvalid).
const (
	MaxNameSize  = 256     // a lock or election name, in bytes
	MaxKeySize   = 1024    // a key, in bytes
	MaxValueSize = 1 << 20 // a value, in bytes
)

// A ConflictError is the error of a CompareAndSwap that found the key at
// another revision (0: absent). It wraps ErrConflict.
type ConflictError struct {
	Key      string
	Expected int64
	Current  int64
}

// Error says which key was found at which revision.
func (e *ConflictError) Error() string {
	return fmt.Sprintf("coord: revision conflict on %q: expected revision %d, found %d", e.Key, e.Expected, e.Current)
}

// Unwrap returns ErrConflict.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// invalid returns an ErrInvalid naming what and why.
func invalid(what, why string) error {
	return fmt.Errorf("%w: %s %s", ErrInvalid, what, why)
}

// checkName checks a lock or election name: it becomes one path segment
// of the keyspace, so it may not contain '/'.
func checkName(kind, name string) error {
	what := fmt.Sprintf("%s name %q", kind, truncate(name))
	switch {
	case name == "":
		return invalid(kind+" name", "is empty")
	case len(name) > MaxNameSize:
		return invalid(what, fmt.Sprintf("is %d bytes, over the limit of %d", len(name), MaxNameSize))
	case strings.ContainsRune(name, 0):
		return invalid(what, "contains a NUL byte")
	case strings.ContainsRune(name, '/'):
		return invalid(what, "contains '/'")
	}
	return nil
}

// checkKey checks a key of the key/value store.
func checkKey(key string) error {
	if key == "" {
		return invalid("key", "is empty")
	}
	return checkPrefix("key", key)
}

// checkPrefix checks a prefix of keys (List, Watch); it may be empty.
func checkPrefix(kind, key string) error {
	what := fmt.Sprintf("%s %q", kind, truncate(key))
	switch {
	case len(key) > MaxKeySize:
		return invalid(what, fmt.Sprintf("is %d bytes, over the limit of %d", len(key), MaxKeySize))
	case strings.ContainsRune(key, 0):
		return invalid(what, "contains a NUL byte")
	}
	return nil
}

// checkValue checks a value written to key.
func checkValue(key string, value []byte) error {
	if len(value) > MaxValueSize {
		return invalid(fmt.Sprintf("value of key %q", truncate(key)), fmt.Sprintf("is %d bytes, over the limit of %d", len(value), MaxValueSize))
	}
	return nil
}

// truncate shortens a name or key quoted in an error.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
