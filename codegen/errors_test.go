package codegen

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"testing"
)

// codeError is a value-type error with an Is method, like syscall.Errno.
type codeError int

func (c codeError) Error() string { return fmt.Sprintf("code %d", int(c)) }

func (c codeError) Is(target error) bool { return c == 404 && target == fs.ErrNotExist }

// fieldError is comparable but not hashable: it holds an interface.
type fieldError struct{ detail any }

func (e fieldError) Error() string { return fmt.Sprint("field: ", e.detail) }

// listError is not comparable; only an Is method can match it.
type listError struct{ items []string }

func (e listError) Error() string { return strings.Join(e.items, ",") }

func (e listError) Is(target error) bool {
	t, ok := target.(listError)
	return ok && strings.Join(t.items, ",") == strings.Join(e.items, ",")
}

var (
	errCode404  = codeError(404)
	errField    = fieldError{detail: "x"}
	errList     = listError{items: []string{"a", "b"}}
	errOtherPtr = errors.New("other")
)

func init() {
	RegisterError("io.EOF", io.EOF)
	RegisterError("io/fs.ErrNotExist", fs.ErrNotExist)
	RegisterError("os.ErrNotExist", os.ErrNotExist) // the same value under a second name
	RegisterError("codegen_test.errCode404", errCode404)
	RegisterError("codegen_test.errField", errField)
	RegisterError("codegen_test.errList", errList)
	RegisterError("codegen_test.errOtherPtr", errOtherPtr)
	RegisterError("codegen_test.nil", nil)
}

// TestErrorIdentityMatchesErrorsIs checks that a decoded error matches, with
// errors.Is, exactly the registered errors the original matched, for error
// trees of every shape (wrapped, joined, nodes with Is methods, value-type,
// comparable-but-unhashable and uncomparable errors).
func TestErrorIdentityMatchesErrorsIs(t *testing.T) {
	targets := []error{io.EOF, fs.ErrNotExist, os.ErrNotExist, errCode404, errField, errList, errOtherPtr,
		errSentinel, ErrPanic, ErrUnavailable, fieldError{detail: "y"}, listError{items: []string{"a", "b"}}}
	for _, err := range []error{
		io.EOF,
		fmt.Errorf("read: %w", io.EOF),
		fmt.Errorf("open: %w", &fs.PathError{Op: "open", Path: "/x", Err: syscall.ENOENT}),
		errCode404,
		fmt.Errorf("lookup: %w", codeError(500)),
		errField,
		fmt.Errorf("f: %w", fieldError{detail: "x"}),
		fieldError{detail: []int{1}}, // unhashable dynamic value inside
		listError{items: []string{"a", "b"}},
		errors.Join(errOtherPtr, fmt.Errorf("x: %w", errSentinel), nil),
		fmt.Errorf("%w and %w", ErrUnavailable, ErrUnavailable),
		PanicError("c.C", "M", "boom"),
		fmt.Errorf("call: %w", PanicError("c.C", "M", "boom")),
		errors.New("unregistered"),
	} {
		var e Encoder
		e.Error(err)
		var d Decoder
		d.Reset(e.Data())
		got := d.Error()
		if derr := d.Done(); derr != nil {
			t.Fatalf("%v: %v", err, derr)
		}
		if got.Error() != err.Error() {
			t.Errorf("%v: message became %q", err, got.Error())
		}
		for _, target := range targets {
			if want := errors.Is(err, target); errors.Is(got, target) != want {
				t.Errorf("%q: errors.Is(decoded, %q) = %t, want %t as for the original", err, target, !want, want)
			}
		}
	}
	for _, sentinel := range []error{io.EOF, os.ErrNotExist, errField, errOtherPtr} {
		var e Encoder
		e.Error(sentinel)
		var d Decoder
		d.Reset(e.Data())
		if got := d.Error(); got != sentinel {
			t.Errorf("bare sentinel %q decoded as %#v; want the sentinel itself", sentinel, got)
		}
	}
}

// TestRegisterErrorClash checks the policy for a key registered twice:
// the same error again is a no-op, another error keeps the first and makes
// Components fail, naming the key.
func TestRegisterErrorClash(t *testing.T) {
	registry.Lock()
	saved := registry.errs
	registry.Unlock()
	t.Cleanup(func() {
		registry.Lock()
		registry.errs = saved
		registry.Unlock()
	})
	RegisterError("codegen_test.errSentinel", errSentinel)
	if _, err := Components(); err != nil {
		t.Fatalf("registering the same error twice: Components() = %v", err)
	}
	RegisterError("codegen_test.errSentinel", errors.New("other"))
	_, err := Components()
	if err == nil || !strings.Contains(err.Error(), "codegen_test.errSentinel registered twice") {
		t.Errorf("after a clash, Components() = %v; want it to name the key", err)
	}
	var e Encoder
	e.Error(errSentinel)
	var d Decoder
	d.Reset(e.Data())
	if got := d.Error(); got != errSentinel {
		t.Errorf("after a clash the first registration should stay; decoded %v", got)
	}
}
