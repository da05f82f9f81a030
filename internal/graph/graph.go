// Package graph is the component graph of an application as embedded in its
// binary by "pilotage generate": each component's full name, the components
// it refers to, its listeners, whether it is the main component, the
// shape of its configuration (the TOML keys and kinds of its WithConfig
// type) and the signatures of its methods.
//
// The generator writes one record per component (Record) as a string
// constant in the component's registration, which the linker keeps; the
// pilotage tool finds the records by scanning the binary's bytes (Read),
// without executing it, so it works for a binary built for any platform.
// A record reads
//
//	⟦pilotage:component:v1:<checksum>:<JSON of a Component>⟧
//
// where the checksum is the first 8 hex digits of the SHA-256 of the JSON,
// and the JSON is pure ASCII (other characters are \u escapes), so that no
// byte of it can be taken for the closing bracket. Service Weaver embeds its
// component graph the same way.
//
// The package depends on the standard library only: the generator, the
// tool and tests import it; application binaries do not.
package graph

// Graph is the component graph of an application.
type Graph struct {
	Components []Component `json:"components"` // sorted by name
}

// Component describes one component.
type Component struct {
	Name      string   `json:"name"`      // full name, "import/path.Interface"
	Refs      []string `json:"refs"`      // full names of the components it holds Refs to
	Listeners []string `json:"listeners"` // names of its listeners
	Main      bool     `json:"main"`      // the root component, whose process runs the app function
	// Config is the shape of its configuration (the type of its
	// pilotage.WithConfig); nil if it takes none.
	Config *Type `json:"config,omitempty"`
	// Methods are the methods of its interface, sorted by name (the
	// order of generated code's method indexes); absent for the main
	// component, and in a binary generated before they were recorded.
	Methods []Method `json:"methods,omitempty"`
}

// A Method is the signature of a component method, as declared in its
// interface: what an operator's call of it takes and returns.
type Method struct {
	Name string `json:"name"`
	// Params are its parameters after the context.Context, in order.
	Params []Param `json:"params"`
	// Results are the Go types of its results before the error.
	Results []string `json:"results"`
}

// A Param is one parameter of a method: its name as declared ("argN",
// N from 1, for an unnamed or blank one) and its Go type as written in
// the interface's package (that package's types unqualified, others
// qualified by package name: "[]Product", "time.Duration").
type Param struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// A Kind is the kind of a configuration value: how the TOML decoder
// (github.com/BurntSushi/toml) treats a Go type.
type Kind string

// The kinds. A basic Go type is its own kind ("int8", "float32", ...), as
// the decoder checks a value's range against it.
const (
	Bool     Kind = "bool"
	String   Kind = "string"
	Int      Kind = "int"
	Int8     Kind = "int8"
	Int16    Kind = "int16"
	Int32    Kind = "int32"
	Int64    Kind = "int64"
	Uint     Kind = "uint"
	Uint8    Kind = "uint8"
	Uint16   Kind = "uint16"
	Uint32   Kind = "uint32"
	Uint64   Kind = "uint64"
	Float32  Kind = "float32"
	Float64  Kind = "float64"
	Duration Kind = "duration" // time.Duration: an integer (nanoseconds) or a string ("1.5s")
	Datetime Kind = "datetime" // time.Time
	Text     Kind = "text"     // an encoding.TextUnmarshaler: any string, number or boolean
	Any      Kind = "any"      // an empty interface: any value (the keys of a table in it are not consumed)
	Custom   Kind = "custom"   // a toml.Unmarshaler, or beyond a schema: anything; the type's own code decides
	Table    Kind = "table"    // a struct: Fields
	Array    Kind = "array"    // a slice or array: Elem
	Map      Kind = "map"      // a map: any keys, values of Elem
)

// Type is the shape of a configuration value.
type Type struct {
	Kind   Kind    `json:"kind"`
	Fields []Field `json:"fields,omitempty"` // of a Table, in declaration order
	Elem   *Type   `json:"elem,omitempty"`   // of an Array or a Map
}

// A Field is one key of a table.
type Field struct {
	// Key is the name the decoder matches keys with (case-insensitively):
	// the name in the field's toml tag, else the Go field name.
	Key  string `json:"key"`
	Type *Type  `json:"type"`
}
