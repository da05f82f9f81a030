package codegen

// LatestVersion is the version of generated code this library understands.
// Generated files assign a Version to a LatestVersion variable, so a file
// written by another pilotage release fails to compile with the message held
// in its string.
type LatestVersion = Version[[0][1]struct{}]

// Version tags generated code with the codegen version it was written for.
type Version[_ any] string

// RunPilotageGenerateIfThisFails does nothing at run time. Generated code
// passes it values whose types encode what the generator saw (method
// signatures, struct fields), so when the code has changed since generation
// the build fails with an error naming this function.
func RunPilotageGenerateIfThisFails[T any](T) struct{} { return struct{}{} }
