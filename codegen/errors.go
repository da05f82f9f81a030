package codegen

import (
	"context"
	"errors"
	"fmt"
	"reflect"
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
	// ErrOverloaded: the callee's replica was over its limit of calls in
	// flight and refused the call without running it. The error also wraps
	// ErrUnavailable, so the transport retries it on another replica.
	ErrOverloaded = errors.New("component overloaded")
	// ErrCircuitOpen: every replica of the callee failed its recent calls
	// and is ejected from the caller's pool; the call was not sent. The
	// error also wraps ErrUnavailable.
	ErrCircuitOpen = errors.New("circuit open")
)

// A registeredError is one registered target and the key it travels as.
type registeredError struct {
	key    string
	target error
}

// errorRegistry indexes the registered errors so that encoding an error costs
// a map lookup per node of its tree, not an errors.Is call per registered
// error: generated code registers every exported error variable an
// application can reach, hundreds of them.
var errorRegistry = struct {
	sync.RWMutex
	byKey map[string]error
	// byValue holds each hashable target once, under its first key.
	byValue map[any]string
	// byType holds the targets that are comparable but not hashable (a
	// struct with an interface field), by dynamic type.
	byType map[reflect.Type][]registeredError
	// distinct holds each target once, in registration order, for the
	// nodes of an error tree that have an Is method.
	distinct []registeredError
}{byKey: map[string]error{}, byValue: map[any]string{}, byType: map[reflect.Type][]registeredError{}}

func init() {
	RegisterError("pilotage.ErrUnavailable", ErrUnavailable)
	RegisterError("pilotage.ErrInterrupted", ErrInterrupted)
	RegisterError("pilotage.ErrPanic", ErrPanic)
	RegisterError("pilotage.ErrOverloaded", ErrOverloaded)
	RegisterError("pilotage.ErrCircuitOpen", ErrCircuitOpen)
	RegisterError("pilotage.ErrMalformed", ErrMalformed)
	RegisterError("context.Canceled", context.Canceled)
	RegisterError("context.DeadlineExceeded", context.DeadlineExceeded)
}

// RegisterError makes errors.Is(err, target) keep working after err crosses a
// process boundary, for every err that matches target. key names target
// uniquely: generated code uses "import/path.VarName". Both ends of a call run
// the same binary, so a registration anywhere in it serves every call.
//
// Registering a key again with the same error does nothing, and so does
// registering a nil target. Registering a key again with another error keeps
// the first one and records the clash, which Components reports: like a
// component registered twice, it stops the application at start. It can only
// come from a hand-written registration reusing a key, or from a variable
// reassigned after generated code registered it.
func RegisterError(key string, target error) {
	if target == nil {
		return
	}
	errorRegistry.Lock()
	defer errorRegistry.Unlock()
	if old, ok := errorRegistry.byKey[key]; ok {
		if !sameError(old, target) {
			recordProblem(fmt.Errorf("error %s registered twice, as %q (%T) and as %q (%T): give each registration its own key, and do not reassign registered error variables", key, old, old, target, target))
		}
		return
	}
	errorRegistry.byKey[key] = target
	t := reflect.TypeOf(target)
	switch {
	case hashable(t):
		if _, dup := errorRegistry.byValue[target]; dup {
			return // another name for a registered error (os.ErrNotExist is fs.ErrNotExist)
		}
		errorRegistry.byValue[target] = key
	case t.Comparable():
		for _, r := range errorRegistry.byType[t] {
			if r.target == target {
				return
			}
		}
		errorRegistry.byType[t] = append(errorRegistry.byType[t], registeredError{key, target})
	}
	errorRegistry.distinct = append(errorRegistry.distinct, registeredError{key, target})
}

// sameError reports whether a and b are the same error value.
func sameError(a, b error) bool {
	t := reflect.TypeOf(a)
	if t != reflect.TypeOf(b) {
		return false
	}
	if t.Comparable() {
		return a == b
	}
	return reflect.DeepEqual(a, b)
}

// hashableTypes caches hashable's answer for struct and array types.
var hashableTypes sync.Map // reflect.Type -> bool

// hashable reports whether values of t can be map keys without panicking:
// comparable, and holding no interface whose dynamic value might not be.
func hashable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Chan, reflect.UnsafePointer, reflect.String,
		reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return true
	case reflect.Struct, reflect.Array:
		if v, ok := hashableTypes.Load(t); ok {
			return v.(bool)
		}
		ok := true
		if t.Kind() == reflect.Array {
			ok = hashable(t.Elem())
		}
		for i := 0; ok && t.Kind() == reflect.Struct && i < t.NumField(); i++ {
			ok = hashable(t.Field(i).Type)
		}
		hashableTypes.Store(t, ok)
		return ok
	}
	return false // interfaces, slices, maps, funcs
}

// Error writes err: its message and the keys of every registered error it
// matches with errors.Is.
func (e *Encoder) Error(err error) {
	if err == nil {
		e.Bool(false)
		return
	}
	e.methodErr = err
	e.Bool(true)
	e.String(err.Error())
	var matched [8]string
	errorRegistry.RLock()
	keys := matchingKeys(err, matched[:0])
	errorRegistry.RUnlock()
	e.Len(len(keys))
	for _, k := range keys {
		e.String(k)
	}
}

// matchingKeys appends to keys the key of every registered error that
// errors.Is(err, target) reports, walking err's tree as errors.Is does: a
// node matches the targets equal to it and, if it has an Is method, those
// its method accepts. The caller holds errorRegistry's read lock.
func matchingKeys(err error, keys []string) []string {
	for err != nil {
		t := reflect.TypeOf(err)
		switch {
		case hashable(t):
			if k, ok := errorRegistry.byValue[err]; ok {
				keys = appendNew(keys, k)
			}
		case t.Comparable():
			for _, r := range errorRegistry.byType[t] {
				if r.target == err {
					keys = appendNew(keys, r.key)
				}
			}
		}
		if x, ok := err.(interface{ Is(error) bool }); ok {
			for _, r := range errorRegistry.distinct {
				if x.Is(r.target) {
					keys = appendNew(keys, r.key)
				}
			}
		}
		switch x := err.(type) {
		case interface{ Unwrap() error }:
			err = x.Unwrap()
		case interface{ Unwrap() []error }:
			for _, child := range x.Unwrap() {
				keys = matchingKeys(child, keys)
			}
			return keys
		default:
			return keys
		}
	}
	return keys
}

// appendNew appends k to keys unless it is there already.
func appendNew(keys []string, k string) []string {
	for _, have := range keys {
		if have == k {
			return keys
		}
	}
	return append(keys, k)
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
