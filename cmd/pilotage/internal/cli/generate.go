package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/generate"
)

// errStale is the error of "generate -check" when files are not up to date.
var errStale = errors.New(`generated code is not up to date: run "pilotage generate"`)

func generateCmd() *command {
	var check bool
	return &command{
		name:  "generate",
		usage: "[-check] [packages]",
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

Errors keep their identity (errors.Is) across processes when they are
registered. Generate registers every exported package-level variable of an
error type (ErrNotFound, io.EOF) of the application's packages that
components reach through imports, and of the packages those import
directly. It warns where a test or a variable would still see Local and
RPC mode disagree, with the fix.

Problems are reported as file:line: message, all of them at once; warnings
too, prefixed "warning:".

With -check, generate writes nothing: it lists the generated files that are
missing, out of date or no longer needed, and exits with status 1 if there
are any (or if there are problems).`,
		flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&check, "check", false, "write nothing; list the files that are not up to date and exit with status 1 if there are any")
		},
		run: func(_ *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
			dir, err := os.Getwd()
			if err != nil {
				return err
			}
			res, err := generate.Run(generate.Options{Dir: dir, Patterns: args, Check: check})
			if list, ok := errors.AsType[generate.ErrorList](err); ok {
				noun := "problems"
				if len(list) == 1 {
					noun = "problem"
				}
				return fmt.Errorf("%d %s, nothing written:\n%w", len(list), noun, err)
			}
			if err != nil {
				return err
			}
			for _, w := range res.Warnings {
				fmt.Fprintf(stderr, "warning: %v\n", w)
			}
			if check && len(res.Changed) > 0 {
				for _, path := range res.Changed {
					fmt.Fprintln(stdout, path)
				}
				return errStale
			}
			return nil
		},
	}
}
