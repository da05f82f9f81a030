package shell

import (
	"context"
	"net/url"
	"slices"
	"strings"
)

// complete completes the word before pos in line: a command name first,
// then paths (a method name after "call path"). It returns the new line
// and cursor position, and, when the word is ambiguous and cannot be
// extended, the candidates to show. Lists come from the tree, which
// serves them from its watch caches.
func (s *Shell) complete(ctx context.Context, line string, pos int) (string, int, []string) {
	head, tail := line[:pos], line[pos:]
	start := strings.LastIndexAny(head, " \t") + 1
	before, word := strings.Fields(head[:start]), head[start:]
	var prefix string        // what stays of word before the completed part
	var names, dirs []string // candidates: full names, and which are directories
	switch {
	case len(before) == 0:
		for _, c := range commandTable {
			names = append(names, c.name)
		}
	case before[0] == "call" && len(before) == 2:
		p, err := s.resolve(before[1])
		if err != nil {
			return line, pos, nil
		}
		nodes, err := s.root.List(ctx, join(p, "methods"))
		if err != nil {
			return line, pos, nil
		}
		for _, n := range nodes {
			names = append(names, n.Name)
		}
	default:
		dirArg := ""
		if i := strings.LastIndexByte(word, '/'); i >= 0 {
			dirArg, prefix, word = word[:i+1], word[:i+1], word[i+1:]
		} else if word == "~" {
			return head[:start] + "~/" + tail, start + 2, nil
		}
		dir, err := s.resolve(strings.TrimSuffix(dirArg, "/"))
		if dirArg == "/" {
			dir, err = "/", nil
		}
		if err != nil {
			return line, pos, nil
		}
		nodes, err := s.root.List(ctx, dir)
		if err != nil {
			return line, pos, nil
		}
		onlyDirs := before[0] == "cd"
		for _, n := range nodes {
			if onlyDirs && !n.Dir {
				continue
			}
			name := url.PathEscape(n.Name)
			names = append(names, name)
			if n.Dir {
				dirs = append(dirs, name)
			}
		}
	}
	var matches []string
	for _, n := range names {
		if strings.HasPrefix(n, word) {
			matches = append(matches, n)
		}
	}
	switch len(matches) {
	case 0:
		return line, pos, nil
	case 1:
		done := prefix + matches[0]
		if slices.Contains(dirs, matches[0]) {
			done += "/"
		} else {
			done += " "
		}
		return head[:start] + done + tail, start + len(done), nil
	}
	common := commonPrefix(matches)
	if len(common) > len(word) {
		done := prefix + common
		return head[:start] + done + tail, start + len(done), nil
	}
	return line, pos, matches
}

// commonPrefix returns the longest prefix every string of list shares.
func commonPrefix(list []string) string {
	p := list[0]
	for _, s := range list[1:] {
		for !strings.HasPrefix(s, p) {
			p = p[:len(p)-1]
		}
	}
	return p
}
