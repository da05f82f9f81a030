package appfs

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// Act performs action (one of the node's Actions) on the resource at p
// and returns the supervisor's line saying how it ended.
func (f *FS) Act(ctx context.Context, p, action string) (string, error) {
	l, t, err := f.find(ctx, p)
	if err != nil {
		return "", err
	}
	if l == nil || t.added != "" || t.method != nil || !slices.Contains(t.node.Actions, action) {
		return "", tree.NotSupported(action, p)
	}
	res, err := l.cache.client.Act(ctx, t.entry.res.Path, action)
	if err != nil {
		return "", f.fail(ctx, action, l, err)
	}
	return res.Message, nil
}

// Call invokes method of the component at p with args (a JSON object of
// its parameters by name, or an array of them in order) on a ready
// replica, and returns its results: null for none, the value of one, an
// array of several. A method that returned an error is a *CallError.
func (f *FS) Call(ctx context.Context, p, method string, args json.RawMessage) (json.RawMessage, error) {
	l, t, err := f.find(ctx, p)
	if err != nil {
		return nil, err
	}
	if l == nil || t.added != "" || t.method != nil || !t.node.Callable {
		return nil, tree.NotSupported("call", p)
	}
	res, err := l.cache.client.Call(ctx, t.entry.res.Path, method, args)
	if err != nil {
		return nil, f.fail(ctx, "call "+method+" of", l, err)
	}
	if res.Error != "" {
		return nil, &CallError{Path: l.path, Method: method, Replica: res.Replica, Message: res.Error}
	}
	return res.Result, nil
}

// A CallError is the error a called method returned.
type CallError struct {
	Path    string // of the component
	Method  string
	Replica string // that served the call, as its logs name it ("catalog.Catalog/1")
	Message string // the method's error
}

// Error returns the method's error message.
func (e *CallError) Error() string { return e.Message }
