// Package codegen is the runtime surface that code written by "pilotage generate"
// uses: component registration, the binary codec, error transport, the
// JSON handlers of operators' calls (JSONHandler) and the checks that make
// stale generated code fail to compile.
//
// Application code does not use this package directly. It is public only
// because generated files live in the application's packages.
//
// # Wire format
//
// Values are written in declaration order with no field tags or schema: both
// ends of a call run the same binary, so the layout is known on both sides.
// Fixed-width integers are little-endian; strings, byte slices, slices and maps
// carry a 4-byte length; nil slices and maps have length -1.
package codegen
