package shell

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"sigs.k8s.io/yaml"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

type editFlags struct {
	output *outputFormat
	reveal bool
}

func editCommand() *command {
	return &command{
		name: "edit", usage: "[-o json|yaml] [--reveal] path", short: "edit a node in $EDITOR; a concurrent change is shown, never overwritten",
		flags: func(fs *flag.FlagSet) any {
			f := &editFlags{}
			f.output = outputFlag(fs, "yaml is the default")
			fs.BoolVar(&f.reveal, "reveal", false, "edit a node with secrets (they are redacted otherwise, and a redacted node cannot be edited)")
			return f
		},
		run: runEdit,
	}
}

// headerEnd ends the comment block edit puts above the content; it and
// the lines before it are not part of the content.
const headerEnd = "# (pilotage: the lines above are ignored; empty the file to cancel)"

func runEdit(ctx context.Context, s *Shell, flags any, args []string) error {
	f := flags.(*editFlags)
	if len(args) != 1 {
		return errUsage
	}
	p, err := s.target(ctx, args[0], "edit", func(n tree.Node) bool { return n.Editable })
	if err != nil {
		return err
	}
	c, err := s.root.Read(ctx, p, tree.ReadOptions{Reveal: f.reveal})
	if err != nil {
		return err
	}
	if c.Redacted {
		return fmt.Errorf("%s holds secrets, shown redacted: edit --reveal to edit them", p)
	}
	_, text := textOf(c.Value)
	format := *f.output
	if format != outputJSON {
		format = outputYAML
	}
	original, err := render(c.Value, text, format)
	if err != nil {
		return err
	}
	version := c.Version
	edited, header := original, ""
	afterConflict := false
	for {
		handed := edited
		got, err := s.runEditor(ctx, p, header, handed, format)
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(got)) == 0 {
			fmt.Fprintf(s.stderr, "edit %s: cancelled (the file was emptied)\n", p)
			return nil
		}
		switch {
		case bytes.Equal(got, original) && !afterConflict:
			fmt.Fprintf(s.stderr, "edit %s: no changes\n", p)
			return nil
		case header != "" && !afterConflict && bytes.Equal(got, handed):
			kept, err := keep(p, got)
			if err != nil {
				return err
			}
			return fmt.Errorf("%s: not saved (unchanged after the error above); your edits are in %s", p, kept)
		}
		edited, afterConflict = got, false
		value, err := parse(got, text, format)
		if err != nil {
			header = "error: " + oneLine(err)
			continue
		}
		newVersion, err := s.root.Write(ctx, p, value, version)
		switch {
		case err == nil:
			fmt.Fprintf(s.stdout, "%s saved", p)
			if newVersion != "" {
				fmt.Fprintf(s.stdout, " (version %s)", newVersion)
			}
			fmt.Fprintln(s.stdout)
			return nil
		case errors.Is(err, tree.ErrConflict):
			cur, rerr := s.root.Read(ctx, p, tree.ReadOptions{Reveal: f.reveal})
			if rerr != nil {
				kept, kerr := keep(p, got)
				return errors.Join(fmt.Errorf("%s changed meanwhile, and reading it again failed: %w; your edits are in %s", p, rerr, kept), kerr)
			}
			now, err := render(cur.Value, text, format)
			if err != nil {
				return err
			}
			header = fmt.Sprintf("%s changed while you edited it (version %s, now %s). What changed underneath:\n%s\nYour edits are below, unchanged. Saving writes them over the new version as they are; edit them first to keep the change above.",
				p, version, cur.Version, unifiedDiff(original, now))
			original, version, afterConflict = now, cur.Version, true
		case errors.Is(err, tree.ErrInvalid):
			header = "the change was refused: " + oneLine(err)
		default:
			kept, kerr := keep(p, got)
			return errors.Join(fmt.Errorf("%w; your edits are in %s", err, kept), kerr)
		}
	}
}

// render returns a node's content as the editor shows it.
func render(v any, text bool, format outputFormat) ([]byte, error) {
	if text {
		s, _ := textOf(v)
		return []byte(s), nil
	}
	var b bytes.Buffer
	if err := encode(&b, v, format); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// parse returns the edited file's content as the JSON value to write.
func parse(b []byte, text bool, format outputFormat) (json.RawMessage, error) {
	if text {
		return json.Marshal(string(b))
	}
	if format == outputJSON {
		if !json.Valid(b) {
			var v any
			return nil, fmt.Errorf("not valid JSON: %w", json.Unmarshal(b, &v))
		}
		return b, nil
	}
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}
	return j, nil
}

// runEditor writes header (as comments) and content to a temporary file,
// runs the editor on it, and returns what it holds then, without the
// header.
func (s *Shell) runEditor(ctx context.Context, p, header string, content []byte, format outputFormat) ([]byte, error) {
	dir, err := os.MkdirTemp("", "pilotage-edit-")
	if err != nil {
		return nil, fmt.Errorf("edit: %w", err)
	}
	defer os.RemoveAll(dir)
	ext := ".yaml"
	if format == outputJSON {
		ext = ".json"
	}
	file := filepath.Join(dir, strings.NewReplacer("/", "_", "%", "_").Replace(strings.TrimPrefix(p, "/"))+ext)
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Editing %s\n", p)
	for _, l := range strings.Split(strings.TrimSpace(header), "\n") {
		if l != "" {
			fmt.Fprintf(&b, "# %s\n", l)
		}
	}
	fmt.Fprintln(&b, headerEnd)
	b.Write(content)
	if err := os.WriteFile(file, b.Bytes(), 0o600); err != nil {
		return nil, fmt.Errorf("edit: %w", err)
	}
	editor := s.editor
	if editor == "" {
		editor = firstNonEmpty(os.Getenv("VISUAL"), os.Getenv("EDITOR"), "vi")
	}
	cmd := exec.CommandContext(ctx, "sh", "-c", editor+` "$@"`, "editor", file)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s.stdin, s.stdout, s.stderr
	if err := cmd.Run(); err != nil {
		kept, kerr := keep(p, content)
		return nil, errors.Join(fmt.Errorf("editor %q: %w; nothing saved (the content is in %s)", editor, err, kept), kerr)
	}
	got, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("edit: %w", err)
	}
	if i := bytes.Index(got, []byte(headerEnd+"\n")); i >= 0 {
		got = got[i+len(headerEnd)+1:]
	}
	return got, nil
}

// keep saves edits that could not be applied, so that nothing typed is
// lost, and returns where.
func keep(p string, b []byte) (string, error) {
	f, err := os.CreateTemp("", "pilotage-edit-*.txt")
	if err != nil {
		return "", fmt.Errorf("keep the edits of %s: %w", p, err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		return f.Name(), fmt.Errorf("keep the edits of %s: %w", p, err)
	}
	return f.Name(), nil
}

// unifiedDiff returns the changes from a to b, as diff -u shows them.
func unifiedDiff(a, b []byte) string {
	d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(string(a)), B: difflib.SplitLines(string(b)),
		FromFile: "when you opened it", ToFile: "now", Context: 2,
	})
	if err != nil || d == "" {
		return "(no difference in content: only its version changed)"
	}
	return strings.TrimRight(d, "\n")
}

// firstNonEmpty returns the first of vals that is not empty.
func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
