package shell

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

type catFlags struct {
	reveal bool
	output *outputFormat
}

func catCommand() *command {
	return &command{
		name: "cat", usage: "[-o json|yaml] [--reveal] path...", short: "show a node's content (YAML; secrets redacted unless --reveal)",
		flags: func(fs *flag.FlagSet) any {
			f := &catFlags{}
			fs.BoolVar(&f.reveal, "reveal", false, "show secret values (Secret data, config values marked secret)")
			f.output = outputFlag(fs, "yaml is the default")
			return f
		},
		run: runCat,
	}
}

func runCat(ctx context.Context, s *Shell, flags any, args []string) error {
	f := flags.(*catFlags)
	if len(args) == 0 {
		return errUsage
	}
	paths, err := s.expandAll(ctx, args)
	if err != nil {
		return err
	}
	for i, p := range paths {
		if len(paths) > 1 {
			if i > 0 {
				fmt.Fprintln(s.stdout)
			}
			fmt.Fprintf(s.stdout, "# %s\n", p)
		}
		c, err := s.read(ctx, p, tree.ReadOptions{Reveal: f.reveal})
		if err != nil {
			return err
		}
		if err := s.printContent(c.Value, *f.output); err != nil {
			return err
		}
	}
	return nil
}

// read reads the node at p, saying so plainly when it has no content.
func (s *Shell) read(ctx context.Context, p string, opts tree.ReadOptions) (tree.Content, error) {
	n, err := s.root.Stat(ctx, p)
	if err != nil {
		return tree.Content{}, err
	}
	if !n.Readable {
		if n.Dir {
			return tree.Content{}, fmt.Errorf("%s is a directory (ls lists it): %w", p, tree.ErrNotSupported)
		}
		return tree.Content{}, tree.NotSupported("read", p)
	}
	return s.root.Read(ctx, p, opts)
}

// printContent prints a node's content: text as it is, anything else as
// YAML or JSON.
func (s *Shell) printContent(v any, format outputFormat) error {
	if text, ok := textOf(v); ok && format != outputJSON {
		if !strings.HasSuffix(text, "\n") && text != "" {
			text += "\n"
		}
		_, err := fmt.Fprint(s.stdout, text)
		return err
	}
	if format == outputDefault || format == outputWide {
		format = outputYAML
	}
	return encode(s.stdout, v, format)
}

// textOf returns v as text if it is a string (or JSON of one).
func textOf(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case json.RawMessage:
		var str string
		if json.Unmarshal(t, &str) == nil {
			return str, true
		}
	}
	return "", false
}
