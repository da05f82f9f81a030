package shell

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// memFS is an in-memory tree for the shell's unit tests: directories are
// the parents of the nodes added.
type memFS struct {
	tree.Unsupported
	mu      sync.Mutex
	nodes   map[string]tree.Node
	values  map[string]json.RawMessage
	version map[string]int
	// beforeWrite, if set, runs before each Write (a concurrent change).
	beforeWrite func(p string)
	// refuse, if set, refuses values for which it returns an error.
	refuse  func(json.RawMessage) error
	execFn  func(p string, req tree.ExecRequest) (int, error)
	removed []string
	acted   []string
}

func newMemFS() *memFS {
	return &memFS{nodes: map[string]tree.Node{}, values: map[string]json.RawMessage{}, version: map[string]int{}}
}

// add adds a node at p (and directories above it); value, if not nil, is
// its content (it is then readable and editable).
func (m *memFS) add(p string, n tree.Node, value any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n.Path, n.Name = p, p[strings.LastIndexByte(p, '/')+1:]
	if value != nil {
		b, _ := json.Marshal(value)
		m.values[p], m.version[p] = b, 1
		n.Readable, n.Editable = true, true
	}
	m.nodes[p] = n
	for d := parent(p); d != "/"; d = parent(d) {
		if _, ok := m.nodes[d]; !ok {
			m.nodes[d] = tree.Node{Path: d, Name: d[strings.LastIndexByte(d, '/')+1:], Kind: "Collection", Dir: true}
		}
	}
}

func parent(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

func (m *memFS) Stat(_ context.Context, p string) (tree.Node, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p == "/" {
		return tree.Node{Path: "/", Name: "/", Dir: true}, nil
	}
	n, ok := m.nodes[p]
	if !ok {
		return tree.Node{}, tree.NotFound(p)
	}
	return n, nil
}

func (m *memFS) List(_ context.Context, p string) ([]tree.Node, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []tree.Node
	for q, n := range m.nodes {
		if parent(q) == p {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		if _, ok := m.nodes[p]; !ok && p != "/" {
			return nil, tree.NotFound(p)
		}
	}
	slices.SortFunc(out, func(a, b tree.Node) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (m *memFS) Read(_ context.Context, p string, _ tree.ReadOptions) (tree.Content, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.values[p]
	if !ok {
		return tree.Content{}, tree.NotFound(p)
	}
	var val any
	json.Unmarshal(v, &val)
	return tree.Content{Value: val, Version: strconv.Itoa(m.version[p])}, nil
}

// set changes p's value as someone else would.
func (m *memFS) set(p string, value any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, _ := json.Marshal(value)
	m.values[p] = b
	m.version[p]++
}

func (m *memFS) Write(_ context.Context, p string, value json.RawMessage, version string) (string, error) {
	if m.beforeWrite != nil {
		m.beforeWrite(p)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if version != "" && version != strconv.Itoa(m.version[p]) {
		return "", fmt.Errorf("%s: %w", p, tree.ErrConflict)
	}
	if m.refuse != nil {
		if err := m.refuse(value); err != nil {
			return "", fmt.Errorf("%s: %w: %v", p, tree.ErrInvalid, err)
		}
	}
	m.values[p] = value
	m.version[p]++
	return strconv.Itoa(m.version[p]), nil
}

func (m *memFS) Remove(_ context.Context, p string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.nodes, p)
	m.removed = append(m.removed, p)
	return nil
}

func (m *memFS) Act(_ context.Context, p, action string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.acted = append(m.acted, action+" "+p)
	return p + ": " + action + "ed", nil
}

func (m *memFS) Exec(_ context.Context, p string, req tree.ExecRequest) (int, error) {
	return m.execFn(p, req)
}

func (m *memFS) Logs(_ context.Context, p string, _ tree.LogOptions, fn func(tree.LogLine) error) error {
	return fn(tree.LogLine{Path: p, Text: "hello from " + p})
}
