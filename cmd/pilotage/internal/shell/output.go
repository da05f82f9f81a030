package shell

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"sigs.k8s.io/yaml"
)

// An outputFormat is the value of -o.
type outputFormat string

const (
	outputDefault outputFormat = ""
	outputWide    outputFormat = "wide"
	outputJSON    outputFormat = "json"
	outputYAML    outputFormat = "yaml"
)

func (f *outputFormat) String() string { return string(*f) }

func (f *outputFormat) Set(v string) error {
	switch outputFormat(v) {
	case outputDefault, outputWide, outputJSON, outputYAML:
		*f = outputFormat(v)
		return nil
	}
	return fmt.Errorf("-o %s: want json, yaml or wide", v)
}

// outputFlag declares -o on fs.
func outputFlag(fs *flag.FlagSet, what string) *outputFormat {
	f := new(outputFormat)
	fs.Var(f, "o", "output format: json, yaml, or wide ("+what+")")
	return f
}

// encode writes v as JSON (indented) or YAML.
func encode(w io.Writer, v any, format outputFormat) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	if format == outputJSON {
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	y, err := yaml.JSONToYAML(b)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	_, err = w.Write(y)
	return err
}

// newTable returns a writer aligning tab-separated columns, as ls -l and
// the exit-status tables print them: no borders, so they pipe into awk.
func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 8, 3, ' ', 0) }

// age says how long ago t was, as kubectl does: 45s, 12m, 5h, 3d.
func age(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "0s"
	case d < 2*time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < 2*time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// orDash returns s, or "-" if it is empty, for table cells.
func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
