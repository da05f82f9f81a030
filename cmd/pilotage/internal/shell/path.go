package shell

import (
	"context"
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// resolve returns the clean absolute path that arg names, relative to the
// shell's working directory: "~" (and "~/...") is home, "-" the previous
// directory, ".." and "." as in a file system. Elements stay as written,
// percent-encoding included (see tree).
func (s *Shell) resolve(arg string) (string, error) {
	switch {
	case arg == "":
		return s.cwd, nil
	case arg == "-":
		if s.prev == "" {
			return "", fmt.Errorf("no previous directory: %w", errUsage)
		}
		return s.prev, nil
	case arg == "~":
		return s.home, nil
	case strings.HasPrefix(arg, "~/"):
		arg = s.home + arg[1:]
	case !strings.HasPrefix(arg, "/"):
		arg = s.cwd + "/" + arg
	}
	clean := path.Clean(arg)
	for _, e := range strings.Split(strings.Trim(clean, "/"), "/") {
		if _, err := url.PathUnescape(e); err != nil {
			return "", fmt.Errorf("path %q: bad escape in %q: %w", arg, e, errUsage)
		}
	}
	return clean, nil
}

// hasGlob reports whether p holds a glob pattern character.
func hasGlob(p string) bool { return strings.ContainsAny(p, "*?[") }

// expand resolves arg and, if it holds a glob, returns every path it
// matches, sorted; a glob that matches nothing is an error wrapping
// tree.ErrNotFound. Globs match one element each, as path.Match does.
func (s *Shell) expand(ctx context.Context, arg string) ([]string, error) {
	p, err := s.resolve(arg)
	if err != nil {
		return nil, err
	}
	if !hasGlob(p) {
		return []string{p}, nil
	}
	paths := []string{"/"}
	for _, elem := range strings.Split(strings.Trim(p, "/"), "/") {
		if _, err := path.Match(elem, ""); err != nil {
			return nil, fmt.Errorf("pattern %q: %v: %w", arg, err, errUsage)
		}
		var next []string
		for _, dir := range paths {
			if !hasGlob(elem) {
				next = append(next, join(dir, elem))
				continue
			}
			nodes, err := s.root.List(ctx, dir)
			if err != nil {
				continue // not a directory, or gone: it matches nothing
			}
			for _, n := range nodes {
				if ok, _ := path.Match(elem, url.PathEscape(n.Name)); ok {
					next = append(next, n.Path)
				}
			}
		}
		paths = next
	}
	// A literal element after a glob may name nothing in some matches.
	var found []string
	for _, p := range paths {
		if _, err := s.root.Stat(ctx, p); err == nil {
			found = append(found, p)
		}
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("%s: no match: %w", arg, tree.ErrNotFound)
	}
	return found, nil
}

// expandAll expands every argument.
func (s *Shell) expandAll(ctx context.Context, args []string) ([]string, error) {
	var all []string
	for _, a := range args {
		ps, err := s.expand(ctx, a)
		if err != nil {
			return nil, err
		}
		all = append(all, ps...)
	}
	return all, nil
}

// targets expands args and returns the paths they name, if every node
// there can do what (can says whether it can): else an error naming the
// first that cannot, and nothing done.
func (s *Shell) targets(ctx context.Context, args []string, what string, can func(tree.Node) bool) ([]string, error) {
	paths, err := s.expandAll(ctx, args)
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		n, err := s.root.Stat(ctx, p)
		if err != nil {
			return nil, err
		}
		if !can(n) {
			return nil, tree.NotSupported(what, p)
		}
	}
	return paths, nil
}

// target is targets for a command on one path, which is not a glob.
func (s *Shell) target(ctx context.Context, arg, what string, can func(tree.Node) bool) (string, error) {
	p, err := s.resolve(arg)
	if err != nil {
		return "", err
	}
	n, err := s.root.Stat(ctx, p)
	if err != nil {
		return "", err
	}
	if !can(n) {
		return "", tree.NotSupported(what, p)
	}
	return p, nil
}

// join returns dir/elem.
func join(dir, elem string) string {
	if dir == "/" {
		return "/" + elem
	}
	return dir + "/" + elem
}

// display returns p as the user should see it: relative to the working
// directory when below it, else absolute.
func (s *Shell) display(p string) string {
	if s.cwd != "/" && strings.HasPrefix(p, s.cwd+"/") {
		return p[len(s.cwd)+1:]
	}
	return p
}
