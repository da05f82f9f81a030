package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/pilotage/pilotage/internal/generate"
)

func generateCmd() *command {
	return &command{
		name:  "generate",
		usage: "[packages]",
		short: "write stubs and codecs for components",
		long: `Generate type-checks the named packages (default ./...) and writes, in
every package that declares a component interface or implementation, a file
pilotage_gen.go holding registration, local/client/server stubs and the
binary codec of the types that cross component boundaries.

Component methods take a context.Context first and return an error last.
Their other parameters and results may be: booleans, numbers, strings,
time.Time, error, and structs, pointers, slices, arrays and maps of those
(named or not), plus types implementing encoding.BinaryMarshaler and
BinaryUnmarshaler, or proto.Message. Channels, functions, unsafe.Pointer and
interfaces other than error cannot cross a process boundary and are rejected.

Problems are reported as file:line: message, all of them at once.`,
		run: func(_ *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			if len(args) == 0 {
				args = []string{"./..."}
			}
			dir, err := os.Getwd()
			if err != nil {
				return err
			}
			err = generate.Generate(dir, args)
			if list, ok := errors.AsType[generate.ErrorList](err); ok {
				noun := "problems"
				if len(list) == 1 {
					noun = "problem"
				}
				return fmt.Errorf("%d %s, nothing written:\n%w", len(list), noun, err)
			}
			return err
		},
	}
}
