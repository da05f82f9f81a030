// Package jsoncall is the JSON entry point of a replica: how an operator's
// tool (the supervisor of "pilotage run", for "pilotage call") invokes a
// method of a hosted component by name, with JSON arguments, through the
// RPC transport, and gets its results as JSON.
//
// A replica serves it as one more component of its rpc.Server, under the
// reserved name Component, which no component can have (a component's
// full name is an import path, which holds no ':', and an identifier), so
// normal dispatch by component id never reaches it by accident; were the
// ids of two names ever to collide, rpc.Server.Register would refuse the
// second, and the replica would not start. Its connections are
// authenticated like all others: the caller must announce the replica's
// deployment.
//
// Method 0 of Component takes, encoded with codegen.Encoder, the
// component's full name, the method's name and the JSON arguments
// (strings and bytes), and answers the JSON results (bytes) and the error
// the method returned (codegen.Encoder.Error; none if it returned nil). A
// call that could not be made (an unknown component or method, arguments
// that do not decode, results that do not encode) is answered with an
// error frame; arguments that do not decode match
// codegen.ErrJSONArguments at the caller.
//
// The generated JSON handlers (codegen.JSONHandler) do the decoding and
// encoding; normal calls between components never pass here.
package jsoncall

import (
	"context"
	"fmt"

	"github.com/pilotage/pilotage/codegen"
)

// Component is the reserved component name the JSON entry point is served
// under.
const Component = "pilotage:json"

// callMethod is the method index of a JSON call on Component.
const callMethod = 0

// A Target is one component a replica serves JSON calls to.
type Target struct {
	Methods []codegen.Method      // the interface's methods, as registered
	JSON    []codegen.JSONHandler // indexed like Methods
}

// Handlers returns the handlers of Component serving JSON calls to
// targets, by full name. targets must not change afterwards.
func Handlers(targets map[string]Target) []codegen.Handler {
	return []codegen.Handler{func(ctx context.Context, args []byte, out *codegen.Encoder) error {
		var dec codegen.Decoder
		dec.Reset(args)
		comp, method, jsonArgs := dec.String(), dec.String(), dec.Bytes()
		if err := dec.Done(); err != nil {
			return fmt.Errorf("jsoncall: malformed request: %w", err)
		}
		t, ok := targets[comp]
		if !ok {
			return fmt.Errorf("component %s is not hosted here, or its generated code predates JSON calls", comp)
		}
		h := t.handler(method)
		if h == nil {
			return fmt.Errorf("component %s has no method %s", comp, method)
		}
		res, appErr, err := h(ctx, jsonArgs)
		if err != nil {
			return fmt.Errorf("call %s.%s: %w", shortName(comp), method, err)
		}
		out.Bytes(res)
		out.Error(appErr)
		return out.Err()
	}}
}

// handler returns the JSON handler of method, or nil.
func (t Target) handler(method string) codegen.JSONHandler {
	for i, m := range t.Methods {
		if m.Name == method && i < len(t.JSON) {
			return t.JSON[i]
		}
	}
	return nil
}

// A Caller sends calls to a replica: an *rpc.Conn.
type Caller interface {
	Call(ctx context.Context, component string, method int, args []byte) ([]byte, error)
}

// Call invokes method of component (its full name) with JSON args through
// c, and returns its JSON results and the error the method returned. err
// is the failure of the call itself: the transport's (matching
// codegen.ErrUnavailable or codegen.ErrInterrupted), the context's, or
// the replica's refusal (matching codegen.ErrJSONArguments for arguments
// that do not decode).
func Call(ctx context.Context, c Caller, component, method string, args []byte) (results []byte, appErr error, err error) {
	enc := codegen.GetEncoder()
	defer codegen.PutEncoder(enc)
	enc.String(component)
	enc.String(method)
	enc.Bytes(args)
	if err := enc.Err(); err != nil {
		return nil, nil, fmt.Errorf("jsoncall: encode the call: %w", err)
	}
	reply, err := c.Call(ctx, Component, callMethod, enc.Data())
	if err != nil {
		return nil, nil, err
	}
	var dec codegen.Decoder
	dec.Reset(reply)
	results = dec.Bytes()
	appErr = dec.Error()
	if err := dec.Done(); err != nil {
		return nil, nil, fmt.Errorf("jsoncall: malformed reply: %w", err)
	}
	return results, appErr, nil
}

// shortName returns the last path element of a full name.
func shortName(full string) string {
	for i := len(full) - 1; i >= 0; i-- {
		if full[i] == '/' {
			return full[i+1:]
		}
	}
	return full
}
