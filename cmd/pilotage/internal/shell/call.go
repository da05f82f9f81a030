package shell

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

func callCommand() *command {
	return &command{
		name: "call", usage: "path method [json|-]", short: "call a component's method with JSON arguments and print its JSON result",
		flags: noFlags,
		run: func(ctx context.Context, s *Shell, _ any, args []string) error {
			if len(args) < 2 || len(args) > 3 {
				return errUsage
			}
			p, err := s.target(ctx, args[0], "call", func(n tree.Node) bool { return n.Callable })
			if err != nil {
				return err
			}
			var callArgs json.RawMessage
			if len(args) == 3 {
				if callArgs, err = s.valueArg(args[2]); err != nil {
					return err
				}
				if !json.Valid(callArgs) || !strings.ContainsAny(string(callArgs[:1]), "{[n") {
					return fmt.Errorf("arguments %s: want a JSON object of the parameters by name, or an array of them: %w", args[2], errUsage)
				}
			}
			res, err := s.root.Call(ctx, p, args[1], callArgs)
			if err != nil {
				return err
			}
			var v any
			if err := json.Unmarshal(res, &v); err != nil {
				return fmt.Errorf("call %s %s: result: %w", p, args[1], err)
			}
			return encode(s.stdout, v, outputJSON)
		},
	}
}

// valueArg returns a command-line value as JSON: "-" reads it from stdin;
// valid JSON is taken as it is, anything else as a string.
func (s *Shell) valueArg(arg string) (json.RawMessage, error) {
	b := []byte(arg)
	if arg == "-" {
		var err error
		if b, err = io.ReadAll(s.stdin); err != nil {
			return nil, fmt.Errorf("read stdin: %w", err)
		}
	}
	if trimmed := strings.TrimSpace(string(b)); json.Valid([]byte(trimmed)) {
		return json.RawMessage(trimmed), nil
	}
	return json.Marshal(string(b))
}
