// Package generate implements "pilotage generate": it type-checks the
// application's packages and writes, per package, one pilotage_gen.go file
// with component registration, stubs and codec functions.
//
// The entry point is [Run] ([Generate] for callers that need no report).
// The work is split by step: load.go loads and type-checks packages,
// discover.go finds components, validate.go and serial.go check them,
// errvars.go decides which error variables each file registers and
// testwarn.go warns about tests that would see Local and RPC mode disagree,
// gen.go plans and assembles one file per package using stubs.go
// (registration and stubs), jsonstubs.go (the JSON handlers operators'
// calls use, and the method signatures of the component graph records),
// codec.go (encoding functions), schema.go (the config schemas in the
// component graph records, package graph, that each registration embeds
// in the binary for the pilotage tool) and file.go (imports and names), and write.go puts the files on disk (or, with
// Options.Check, only reports what would change).
//
// Generated code is loaded with the "pilotagegen" build tag excluded, so a
// stale generated file never prevents generation.
package generate
