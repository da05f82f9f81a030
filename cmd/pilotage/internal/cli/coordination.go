package cli

import (
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
)

// coordTimeout bounds a command on the coordination store.
const coordTimeout = 30 * time.Second

// stdin is what "pilotage config put KEY -" reads; a variable for tests.
var stdin io.Reader = os.Stdin

const coordHelp = `The coordination store is the etcd server "pilotage run" embeds in the
app's state directory, or the cluster [coordination] endpoints names in
pilotage.toml; what the app's components do with package coord (locks,
elections, config keys) shows here.`

func locksCmd() *command {
	var asJSON bool
	return &command{
		name:  "locks",
		usage: "[-json] [app]",
		short: "list the locks of a running app",
		long: `Locks lists the locks of a running app that are held or waited for: the
holder (the replica and pid of its session), its fencing token, when its
lease expires unless renewed (it is renewed every quarter of its TTL) and
how many wait. "pilotage unlock" releases one by force.

` + coordHelp + "\n\n" + appLookupHelp(""),
		flags: func(fs *flag.FlagSet) { fs.BoolVar(&asJSON, "json", false, "print the locks as JSON") },
		run: func(_ *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			app, err := optionalApp(args)
			if err != nil {
				return err
			}
			return withApp(app, coordTimeout, func(ctx context.Context, c *control.Client) error {
				locks, now, err := c.Locks(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(stdout, locks)
				}
				return printLocks(stdout, locks, now)
			})
		},
	}
}

// printLocks writes locks as a table; expiries are counted from now.
func printLocks(w io.Writer, locks []api.LockStatus, now time.Time) error {
	if len(locks) == 0 {
		_, err := fmt.Fprintln(w, "no lock is held or waited for")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tHOLDER\tTOKEN\tEXPIRES\tWAITERS")
	for _, l := range locks {
		expires := "-"
		if !l.Expires.IsZero() {
			expires = "in " + l.Expires.Sub(now).Round(100*time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\n", l.Name, orDash(l.Holder), l.Token, expires, l.Waiters)
	}
	return tw.Flush()
}

func leadersCmd() *command {
	var asJSON bool
	return &command{
		name:  "leaders",
		usage: "[-json] [app]",
		short: "list the elections of a running app and their leaders",
		long: `Leaders lists the elections of a running app that have candidates: the
leader (the replica and pid of its session), the value it announced (an
address, say), its fencing token and how many candidates there are, the
leader included.

` + coordHelp + "\n\n" + appLookupHelp(""),
		flags: func(fs *flag.FlagSet) { fs.BoolVar(&asJSON, "json", false, "print the elections as JSON") },
		run: func(_ *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			app, err := optionalApp(args)
			if err != nil {
				return err
			}
			return withApp(app, coordTimeout, func(ctx context.Context, c *control.Client) error {
				leaders, err := c.Leaders(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(stdout, leaders)
				}
				return printLeaders(stdout, leaders)
			})
		},
	}
}

// printLeaders writes leaders as a table.
func printLeaders(w io.Writer, leaders []api.LeaderStatus) error {
	if len(leaders) == 0 {
		_, err := fmt.Fprintln(w, "no election has candidates")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ELECTION\tLEADER\tVALUE\tTOKEN\tCANDIDATES")
	for _, l := range leaders {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\n", l.Election, orDash(l.Holder), cell(l.Value), l.Token, l.Candidates)
	}
	return tw.Flush()
}

func unlockCmd() *command {
	var asJSON bool
	return &command{
		name:  "unlock",
		usage: "[-json] [app] NAME",
		short: "release a lock of a running app by force",
		long: `Unlock takes lock NAME from its holder at once, without asking: the
holder's lock context is cancelled, and its fenced writes (Lock.Put, or
coord.FencedBy) fail with ErrFenced and change nothing; the next waiter
gets the lock with a larger fencing token. It says whom the lock was
taken from, and the token that holder had.

` + coordHelp + "\n\n" + appLookupHelp(""),
		flags: func(fs *flag.FlagSet) { fs.BoolVar(&asJSON, "json", false, "print the result as JSON") },
		run: func(_ *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			app, name, err := appAndName(args)
			if err != nil {
				return err
			}
			if name == "" {
				return fmt.Errorf("the lock name is empty")
			}
			return withApp(app, coordTimeout, func(ctx context.Context, c *control.Client) error {
				res, err := c.Unlock(ctx, name)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(stdout, res)
				}
				_, err = fmt.Fprintln(stdout, res.Message)
				return err
			})
		},
	}
}

// configOps are the subcommands of "pilotage config".
var configOps = map[string]bool{"ls": true, "get": true, "put": true, "rm": true}

func configCmd() *command {
	var asJSON bool
	return &command{
		name:  "config",
		usage: "[-json] [app] ls [prefix] | get KEY | put KEY VALUE|- | rm KEY",
		short: "list, read and write the config keys of a running app",
		long: `Config reads and writes the key/value and config store of a running app:

	ls [prefix]     lists the keys (starting with prefix): revision of their
	                last write, size of their value, and whether a Go type is
	                registered for them (coord.Config)
	get KEY         prints the value of KEY
	put KEY VALUE   sets KEY to VALUE ("-": to what stdin holds); a key with a
	                registered type takes only a value that decodes into it
	                (as JSON): another is refused, with why, and nothing is
	                written
	rm KEY          deletes KEY

A VALUE that starts with '-' follows "--": config put KEY -- -1. Without a subcommand, it lists every key. A change reaches every replica
following the key (coord.Config, Store.Watch) without a restart.

` + coordHelp + "\n\n" + appLookupHelp(""),
		flags: func(fs *flag.FlagSet) { fs.BoolVar(&asJSON, "json", false, "print the result as JSON") },
		run: func(_ *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			app := ""
			if len(args) > 0 && !configOps[args[0]] {
				app, args = args[0], args[1:]
			}
			op := "ls"
			if len(args) > 0 {
				op, args = args[0], args[1:]
			}
			if !configOps[op] {
				return fmt.Errorf("unknown subcommand %q (want ls, get, put or rm)", op)
			}
			want := map[string][2]int{"ls": {0, 1}, "get": {1, 1}, "put": {2, 2}, "rm": {1, 1}}[op]
			if len(args) < want[0] || len(args) > want[1] {
				return errUsage
			}
			if op != "ls" && args[0] == "" {
				return fmt.Errorf("%s: the key is empty", op)
			}
			var value []byte
			if op == "put" {
				value = []byte(args[1])
				if args[1] == "-" {
					var err error
					if value, err = io.ReadAll(io.LimitReader(stdin, api.MaxValueBody)); err != nil {
						return fmt.Errorf("put %s: read stdin: %w", args[0], err)
					}
				}
			}
			return withApp(app, coordTimeout, func(ctx context.Context, c *control.Client) error {
				return runConfig(ctx, c, op, args, value, asJSON, stdout)
			})
		},
	}
}

// runConfig runs config subcommand op with args (value for a put).
func runConfig(ctx context.Context, c *control.Client, op string, args []string, value []byte, asJSON bool, stdout io.Writer) error {
	if op == "ls" {
		prefix := ""
		if len(args) == 1 {
			prefix = args[0]
		}
		keys, err := c.ConfigKeys(ctx, prefix)
		if err != nil {
			return err
		}
		if asJSON {
			return writeJSON(stdout, keys)
		}
		return printConfigKeys(stdout, keys, prefix)
	}
	key := args[0]
	var (
		v   *api.ConfigValue
		err error
	)
	switch op {
	case "get":
		v, err = c.ConfigGet(ctx, key)
	case "put":
		v, err = c.ConfigPut(ctx, key, value)
	default:
		v, err = c.ConfigDelete(ctx, key)
	}
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(stdout, v)
	}
	switch op {
	case "get":
		b := []byte(v.Value)
		if v.Encoding == "base64" {
			if b, err = base64.StdEncoding.DecodeString(v.Value); err != nil {
				return fmt.Errorf("get %s: decode: %w", key, err)
			}
		}
		if _, err := stdout.Write(b); err != nil {
			return err
		}
		if len(b) > 0 && b[len(b)-1] != '\n' {
			_, err = fmt.Fprintln(stdout)
		}
		return err
	case "put":
		typed := ""
		if v.Typed {
			typed = " (it decodes into the key's registered type)"
		}
		_, err = fmt.Fprintf(stdout, "set %s at revision %d%s\n", key, v.Revision, typed)
	default:
		if v.Deleted {
			_, err = fmt.Fprintf(stdout, "deleted %s at revision %d\n", key, v.Revision)
		} else {
			_, err = fmt.Fprintf(stdout, "%s was not set\n", key)
		}
	}
	return err
}

// printConfigKeys writes keys as a table.
func printConfigKeys(w io.Writer, keys []api.ConfigKeyStatus, prefix string) error {
	if len(keys) == 0 {
		what := "no config key is set"
		if prefix != "" {
			what = fmt.Sprintf("no config key starts with %q", prefix)
		}
		_, err := fmt.Fprintln(w, what)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tREVISION\tSIZE\tTYPED")
	for _, k := range keys {
		typed := "no"
		if k.Typed {
			typed = "yes"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", k.Key, k.Revision, k.Size, typed)
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// cell returns s as a table shows it: "-" if empty, quoted if it holds
// spaces or unprintable characters.
func cell(s string) string {
	switch {
	case s == "":
		return "-"
	case strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }):
		return strconv.Quote(s)
	}
	return s
}
