package cli

import (
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// codegenVersion matches codegen.LatestVersion; bump both together.
const codegenVersion = 1

func versionCmd() *command {
	return &command{
		name:  "version",
		short: "print pilotage version",
		long:  "Version prints the pilotage version, the generated-code version and the Go version it was built with.",
		run: func(_ *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			if len(args) != 0 {
				return errUsage
			}
			v := "(devel)"
			if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
				v = bi.Main.Version
			}
			fmt.Fprintf(stdout, "pilotage %s (codegen v%d, %s %s/%s)\n", v, codegenVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
