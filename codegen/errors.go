package codegen

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
)

// Errors the runtime reports; the root package re-exports them.
var (
	// ErrUnavailable: the call was not delivered (no ready replica, the
	// component is stopped, the connection could not be made), so the
	// transport may retry it elsewhere. Once it crosses a method's own
	// result it only says that some call down the chain was not delivered.
	ErrUnavailable = errors.New("component unavailable")
	// ErrInterrupted: the call was sent but no reply came back (the connection
	// or the callee process died). The method may or may not have run.
	ErrInterrupted = errors.New("call interrupted")
	// ErrPanic: the method panicked; the error carries the panic value and stack.
	ErrPanic = errors.New("component method panicked")
)

var errorRegistry = struct {
	sync.RWMutex
	byKey map[string]error
	keys  []string // registration order, for deterministic encoding
}{byKey: map[string]error{}}

func init() {
	RegisterError("pilotage.ErrUnavailable", ErrUnavailable)
	RegisterError("pilotage.ErrInterrupted", ErrInterrupted)
	RegisterError("pilotage.ErrPanic", ErrPanic)
	RegisterError("pilotage.ErrMalformed", ErrMalformed)
	RegisterError("context.Canceled", context.Canceled)
	RegisterError("context.DeadlineExceeded", context.DeadlineExceeded)
}

// RegisterError makes errors.Is(err, target) keep working after err crosses a
// process boundary, for every err that wraps target. key names target
// uniquely (generated code uses "import/path.VarName"). Registering the same
// key twice with another error returns an error.
func RegisterError(key string, target error) error {
	errorRegistry.Lock()
	defer errorRegistry.Unlock()
	if old, ok := errorRegistry.byKey[key]; ok {
		if old == target {
			return nil
		}
		return fmt.Errorf("codegen: error %q registered twice", key)
	}
	errorRegistry.byKey[key] = target
	errorRegistry.keys = append(errorRegistry.keys, key)
	return nil
}

// Error writes err: its message and the keys of every registered error it
// matches with errors.Is.
func (e *Encoder) Error(err error) {
	if err == nil {
		e.Bool(false)
		return
	}
	e.Bool(true)
	e.String(err.Error())
	errorRegistry.RLock()
	var matched [8]string
	keys := matched[:0]
	for _, k := range errorRegistry.keys {
		if errors.Is(err, errorRegistry.byKey[k]) {
			keys = append(keys, k)
		}
	}
	errorRegistry.RUnlock()
	e.Len(len(keys))
	for _, k := range keys {
		e.String(k)
	}
}

// Error reads an error written by Encoder.Error. If the error was exactly a
// registered sentinel, that sentinel is returned, so == comparisons hold too.
func (d *Decoder) Error() error {
	if !d.Bool() {
		return nil
	}
	msg := d.String()
	n := d.Len()
	if d.err != nil {
		return nil
	}
	re := &RemoteError{Msg: msg}
	errorRegistry.RLock()
	for i := 0; i < n; i++ {
		if t, ok := errorRegistry.byKey[d.String()]; ok {
			re.matches = append(re.matches, t)
		}
	}
	errorRegistry.RUnlock()
	if len(re.matches) == 1 && re.matches[0].Error() == msg {
		return re.matches[0]
	}
	return re
}

// RemoteError is an error that crossed a process boundary. Its message is
// kept, and errors.Is matches every registered error the original matched.
type RemoteError struct {
	Msg     string
	matches []error
}

func (e *RemoteError) Error() string   { return e.Msg }
func (e *RemoteError) Unwrap() []error { return e.matches }

// PanicError turns a recovered panic value into an error wrapping ErrPanic,
// with the stack of the panicking goroutine.
func PanicError(component, method string, recovered any) error {
	return &panicError{msg: fmt.Sprintf("%s.%s panicked: %v\n%s", component, method, recovered, debug.Stack())}
}

type panicError struct{ msg string }

func (e *panicError) Error() string        { return e.msg }
func (e *panicError) Is(target error) bool { return target == ErrPanic }
