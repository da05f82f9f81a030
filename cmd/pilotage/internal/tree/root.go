package tree

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Root is the whole tree: "/" holding one directory per mounted FS, each
// serving everything below its mount point. Root is itself an FS.
type Root struct {
	mu     sync.Mutex
	mounts map[string]FS // by top-level name: "apps", "kube"
}

// NewRoot returns a tree with nothing mounted.
func NewRoot() *Root { return &Root{mounts: map[string]FS{}} }

// Mount serves /name and everything below it with fs.
func (r *Root) Mount(name string, fs FS) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mounts[name] = fs
}

// Mounted returns the names mounted at the root, sorted.
func (r *Root) Mounted() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.mounts))
	for n := range r.mounts {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// fs returns the FS serving path, or an error wrapping ErrNotFound (or
// ErrNotSupported for "/" itself, which only Root serves).
func (r *Root) fs(path string) (FS, error) {
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("path %q is not absolute: %w", path, ErrInvalid)
	}
	top, _, _ := strings.Cut(path[1:], "/")
	r.mu.Lock()
	fs, ok := r.mounts[top]
	r.mu.Unlock()
	if !ok {
		return nil, NotFound(path)
	}
	return fs, nil
}

func (r *Root) rootNode() Node {
	return Node{Path: "/", Name: "/", Kind: "Collection", Dir: true}
}

func (r *Root) Stat(ctx context.Context, path string) (Node, error) {
	if path == "/" {
		return r.rootNode(), nil
	}
	fs, err := r.fs(path)
	if err != nil {
		return Node{}, err
	}
	return fs.Stat(ctx, path)
}

func (r *Root) List(ctx context.Context, path string) ([]Node, error) {
	if path == "/" {
		var nodes []Node
		for _, n := range r.Mounted() {
			nodes = append(nodes, Node{Path: "/" + n, Name: n, Kind: "Collection", Dir: true})
		}
		return nodes, nil
	}
	fs, err := r.fs(path)
	if err != nil {
		return nil, err
	}
	return fs.List(ctx, path)
}

func (r *Root) Watch(ctx context.Context, path string, fn func(Event)) error {
	if path == "/" {
		<-ctx.Done() // mounts do not change while the shell runs
		return nil
	}
	fs, err := r.fs(path)
	if err != nil {
		return err
	}
	return fs.Watch(ctx, path, fn)
}

func (r *Root) Read(ctx context.Context, path string, opts ReadOptions) (Content, error) {
	fs, err := r.fs(path)
	if err != nil {
		if path == "/" {
			return Content{}, NotSupported("read", path)
		}
		return Content{}, err
	}
	return fs.Read(ctx, path, opts)
}

func (r *Root) Write(ctx context.Context, path string, value json.RawMessage, version string) (string, error) {
	fs, err := r.fs(path)
	if err != nil {
		return "", err
	}
	return fs.Write(ctx, path, value, version)
}

func (r *Root) Remove(ctx context.Context, path string) error {
	fs, err := r.fs(path)
	if err != nil {
		return err
	}
	return fs.Remove(ctx, path)
}

func (r *Root) Act(ctx context.Context, path, action string) (string, error) {
	fs, err := r.fs(path)
	if err != nil {
		return "", err
	}
	return fs.Act(ctx, path, action)
}

func (r *Root) Logs(ctx context.Context, path string, opts LogOptions, fn func(LogLine) error) error {
	fs, err := r.fs(path)
	if err != nil {
		return err
	}
	return fs.Logs(ctx, path, opts, fn)
}

func (r *Root) Exec(ctx context.Context, path string, req ExecRequest) (int, error) {
	fs, err := r.fs(path)
	if err != nil {
		return 0, err
	}
	return fs.Exec(ctx, path, req)
}

func (r *Root) Call(ctx context.Context, path, method string, args json.RawMessage) (json.RawMessage, error) {
	fs, err := r.fs(path)
	if err != nil {
		return nil, err
	}
	return fs.Call(ctx, path, method, args)
}
