package api

import "encoding/json"

// A Method is one method of a component, as the generated code describes
// it: what "call" may invoke.
type Method struct {
	Name string `json:"name"`
	// Params are its parameters after the context, in order. A call's
	// arguments are a JSON object of them by name (or a JSON array of
	// them in order).
	Params []Param `json:"params"`
	// Results are the Go types of its results before the error.
	Results []string `json:"results"`
}

// A Param is a parameter of a method: its name (as declared, or "argN"
// for an unnamed one, N from 1) and its Go type.
type Param struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// A CallResult is the answer of POST /v2/call/<component path>?method=M,
// whose body is the call's arguments (a JSON object by parameter name, or
// a JSON array in order; empty for none).
type CallResult struct {
	Component string `json:"component"` // full name
	Method    string `json:"method"`
	Replica   string `json:"replica"` // the replica that served it, as a log source ("cart.Cart/1")
	// Result is the method's results before the error: null for none,
	// the value for one, an array for several.
	Result json.RawMessage `json:"result"`
	// Error is the method's error, if it returned one (the call itself
	// went through).
	Error string `json:"error,omitempty"`
}
