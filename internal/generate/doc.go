// Package generate implements "pilotage generate": it type-checks the
// application's packages and writes, per package, one pilotage_gen.go file
// with component registration, stubs and codec functions.
//
// The entry point is [Generate]. The work is split by step: load.go loads and
// type-checks packages, discover.go finds components, validate.go and
// serial.go check them, codec.go, stubs.go and file.go write the code, and
// write.go puts the files on disk.
package generate
