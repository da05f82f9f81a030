package codegen

// LatestVersion is the version of generated code this library understands.
// Generated files assign a Version to a LatestVersion variable, so a file
// written by another pilotage release fails to compile with the message held
// in its string.
type LatestVersion = Version[[0][2]struct{}]

// Version tags generated code with the codegen version it was written for.
type Version[_ any] string
