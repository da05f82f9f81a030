package generate

import (
	"fmt"
	"go/token"
	"path/filepath"
	"sort"
	"strings"
)

// A Problem is one thing wrong with the application's packages, located at a
// position in its source.
type Problem struct {
	Pos token.Position // Filename may be relative to the generation directory
	Msg string         // says what is wrong and how to fix it
}

// Error formats the problem as "file:line:col: message".
func (p Problem) Error() string {
	if !p.Pos.IsValid() && p.Pos.Filename == "" {
		return p.Msg
	}
	return fmt.Sprintf("%s: %s", p.Pos, p.Msg)
}

// ErrorList is every problem Generate found, sorted by position. Its Error
// method prints one problem per line.
type ErrorList []Problem

func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, p := range l {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// problems collects Problems while generation runs.
type problems struct {
	fset *token.FileSet
	dir  string // positions inside dir are printed relative to it
	list ErrorList
	seen map[string]bool
}

// addf records a problem at pos.
func (ps *problems) addf(pos token.Pos, format string, args ...any) {
	var p token.Position
	if ps.fset != nil && pos.IsValid() {
		p = ps.fset.Position(pos)
	}
	ps.addPosition(p, fmt.Sprintf(format, args...))
}

// pos returns pos as text, relative to the generation directory if inside it.
func (ps *problems) pos(pos token.Pos) string {
	return ps.rel(ps.fset.Position(pos)).String()
}

// rel makes p's file name relative to the generation directory if inside it.
func (ps *problems) rel(p token.Position) token.Position {
	if p.Filename != "" && ps.dir != "" {
		if rel, err := filepath.Rel(ps.dir, p.Filename); err == nil && !strings.HasPrefix(rel, "..") {
			p.Filename = rel
		}
	}
	return p
}

// relPath returns path relative to the generation directory if inside it.
func (ps *problems) relPath(path string) string {
	return ps.rel(token.Position{Filename: path}).Filename
}

// addPosition records a problem at an already resolved position.
func (ps *problems) addPosition(p token.Position, msg string) {
	pr := Problem{Pos: ps.rel(p), Msg: msg}
	if ps.seen == nil {
		ps.seen = map[string]bool{}
	}
	if key := pr.Error(); !ps.seen[key] {
		ps.seen[key] = true
		ps.list = append(ps.list, pr)
	}
}

// err returns the collected problems as an ErrorList, or nil if none.
func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	l := append(ErrorList(nil), ps.list...)
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i].Pos, l[j].Pos
		if a.Filename != b.Filename {
			return a.Filename < b.Filename
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return l
}
